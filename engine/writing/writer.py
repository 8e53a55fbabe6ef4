"""The AgentWrite loop (one section at a time) and single-pass mode.

`Writer.write_section` streams one section and yields events; `Writer.write` runs it over the
whole plan. Callers (CLI, studio, data builders) persist and display the events; the writer
itself keeps no state beyond the context-trim point and its tokens-per-word estimate.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.metrics import count_words, length_score, repeated_ngram_share
from engine.models.backends.base import Backend, ChatRequest, Usage
from engine.prompts import bible_block, render
from engine.schema import SamplingSettings, SectionStats, WriteSettings
from engine.writing.events import (
    ContextTrimmed,
    Event,
    LoopCut,
    RecapFinished,
    RecapStarted,
    SectionFinished,
    SectionProgress,
    SectionStarted,
)
from engine.writing.length_control import (
    SectionBudget,
    WordTally,
    clean_section,
    cut_at_sentence,
    ends_sentence,
    scene_target,
)
from engine.writing.prompt_layout import Brief, chapter_start, section_messages, sections_to_drop
from engine.writing.repetition import LoopDetector, ends_wordless, loop_start, wordless_start

MAX_EXTENSIONS = 3
MIN_CONTINUATION_TOKENS = 64
NO_REPEAT_TOKENS = 10
INITIAL_TOKENS_PER_WORD = {"en": 1.4, "zh": 1.6}


RECAP_WORDS = {"en": 80, "zh": 150}
RECAP_OVERRUN = 1.25  # a recap is cut at a sentence once it passes this share of its length


def _clip(recap: str, words: int) -> str:
    """A recap ending at a sentence, cut back to about its length if the model ran on."""
    most = int(words * RECAP_OVERRUN)
    if count_words(recap) > most:
        low, high = 0, len(recap)  # the longest head with at most `most` words
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if count_words(recap[:middle]) <= most else (low, middle - 1)
        recap = recap[:low]
    return recap if ends_sentence(recap) else cut_at_sentence(recap) or recap


@dataclass
class _Attempt:
    """Accounting across the requests that make up one section."""

    usage: Usage = field(default_factory=Usage)
    loop_cuts: int = 0

    def add(self, usage: Usage) -> None:
        self.usage.prompt_tokens_sent += usage.prompt_tokens_sent
        self.usage.prompt_tokens_evaluated += usage.prompt_tokens_evaluated
        self.usage.output_tokens += usage.output_tokens
        self.usage.prompt_s += usage.prompt_s
        self.usage.decode_s += usage.decode_s


class Writer:
    """Writes the sections of a brief's plan with one backend."""

    def __init__(self, backend: Backend, brief: Brief, settings: WriteSettings | None = None):
        self.backend = backend
        self.brief = brief
        self.settings = settings or WriteSettings()
        self.dropped = 0
        self.tokens_per_word = INITIAL_TOKENS_PER_WORD[brief.language]
        self._section_tokens: dict[int, int] = {}

    # -- the whole plan -------------------------------------------------------------------
    def write(
        self, texts: list[str | None] | None = None, partial: str = "", stop: int | None = None
    ) -> Iterator[Event]:
        """Write every section of the plan that has no text yet, in plan order (the rows before
        `stop`, if given).

        `texts` holds the finished text of each row (None where there is none: a row inserted
        between written sections, or the rows after a stop); `partial` continues the first
        section to write. Each section sees the finished texts of every row before it.
        """
        count = len(self.brief.plan.sections)
        texts = list(texts or [])[:count]
        texts += [None] * (count - len(texts))
        for index in range(count if stop is None else min(stop, count)):
            if texts[index] is not None:
                continue
            for event in self.write_section(texts, index, partial):
                if isinstance(event, SectionFinished):
                    texts[index] = event.text
                yield event
            partial = ""

    # -- one section ----------------------------------------------------------------------
    def revise_section(
        self, written: list[str], index: int, source: str, request: str, budget: SectionBudget
    ) -> Iterator[Event]:
        """Stream a new version of section `index` from its `source` text and a rendered revision
        `request`; `written` holds the texts of the sections before it.

        The prompt is the section's own writing prompt plus the source as the model's reply and
        the request as the next turn, so llama.cpp reuses the prefix it already holds. The
        no-repeat rule covers only the new reply: a revision keeps many of its source's words.
        """
        yield SectionStarted(index, len(self.brief.plan.sections), budget.target_words)
        messages = self._messages(written[:index], index, budget)
        messages += [
            {"role": "assistant", "content": source},
            {"role": "user", "content": request},
        ]
        earlier = "\n\n".join(written[max(0, index - 2) : index])
        attempt = _Attempt()
        text = yield from self._stream_section(
            messages, budget, index, "", earlier, attempt, revising=True
        )
        yield self._finish(index, text, budget.target_words, attempt)

    def write_section(self, written: list[str], index: int, partial: str = "") -> Iterator[Event]:
        """Write section `index` after the texts of sections 0..index-1 (`written`)."""
        if self.settings.mode == "single":
            yield from self._write_single(partial)
            return
        target = scene_target(self.brief.plan, written, index)
        budget = SectionBudget(target, self.tokens_per_word)
        entries = self.brief.pinned + self.brief.scene_entries(written, index)
        count = len(self.brief.plan.sections)
        yield SectionStarted(index, count, target, tuple(e.name for e in entries))
        dropped_before = max(self.dropped, chapter_start(self.brief.plan, index))
        messages = self._messages(written[:index], index, budget)
        if self.dropped > dropped_before:
            yield ContextTrimmed(self.dropped)
        earlier = "\n\n".join(written[max(0, index - 2) : index])
        attempt = _Attempt()
        text = yield from self._stream_section(messages, budget, index, partial, earlier, attempt)
        yield self._finish(index, text, target, attempt)

    def _messages(
        self, written: list[str], index: int, budget: SectionBudget
    ) -> list[dict[str, str]]:
        """Section prompt, dropping old sections in a large step when the context is full (in a
        two-level plan only the current chapter's scenes are ever verbatim)."""
        start = chapter_start(self.brief.plan, index)
        for j in range(start, index):
            if j not in self._section_tokens:
                self._section_tokens[j] = self.backend.count_text_tokens(written[j]) + 12
        section_tokens = [self._section_tokens.get(j, 0) for j in range(index)]
        fixed = self.backend.count_tokens(section_messages(self.brief, written, index, index))
        reserve = budget.max_tokens
        self.dropped = min(
            index,
            sections_to_drop(
                section_tokens,
                fixed,
                self.backend.info.context_length,
                reserve,
                max(min(self.dropped, index), start),
            ),
        )
        return section_messages(self.brief, written, index, self.dropped)

    def use_brief(self, brief: Brief) -> None:
        """Go on with a changed brief (a chapter's scenes drafted, a recap written)."""
        self.brief = brief
        self._section_tokens.clear()

    # -- chapter recaps -------------------------------------------------------------------
    def write_recap(self, written: list[str], chapter_id: str) -> Iterator[Event]:
        """Recap a finished chapter: its last scene's conversation plus one request, so the
        model sees the chapter's scenes and llama.cpp reuses the prompt it already holds."""
        plan = self.brief.plan
        scenes = plan.scene_range(chapter_id)
        last = scenes.stop - 1
        language = self.brief.language
        yield RecapStarted(chapter_id)
        words = RECAP_WORDS[language]
        max_tokens = math.ceil(words * self.tokens_per_word * 1.5) + 32
        request = render(
            language,
            "chapter_recap",
            number=plan.chapter_index(chapter_id) + 1,
            title=plan.chapters[plan.chapter_index(chapter_id)].title,
            words=words,
        )
        ending = [
            {"role": "assistant", "content": written[last]},
            {"role": "user", "content": request},
        ]
        messages = section_messages(self.brief, written, last, self.dropped) + ending
        room = self.backend.info.context_length - max_tokens
        if self.backend.count_tokens(messages) > room:
            messages = section_messages(self.brief, written, last, last) + ending
        sampling = self.settings.sampling.model_copy(update={"temperature": 0.3})
        request = ChatRequest(
            messages=messages,
            max_tokens=max_tokens,
            sampling=sampling,
            no_repeat_ngram=NO_REPEAT_TOKENS,
            no_repeat_reply_only=True,  # a recap may quote the chapter's names and phrases
        )
        text = "".join(self.backend.stream(request)).strip()
        yield RecapFinished(chapter_id, _clip(text, words), self.backend.last_usage)

    def _sampling(self, index: int, round_: int) -> SamplingSettings:
        """The sampler for a section; each loop cut makes it a little bolder and less repetitive."""
        base = self.settings.sampling
        if not self.settings.fight_repetition:
            return base.model_copy(update={"repeat_penalty": 1.0})
        seed = None if base.seed is None else base.seed + 1000 * index + round_
        return base.model_copy(
            update={
                "seed": seed,
                "temperature": min(1.2, base.temperature + 0.1 * round_),
                "repeat_penalty": min(1.5, base.repeat_penalty + 0.05 * round_),
                "presence_penalty": min(1.5, base.presence_penalty + 0.2 * round_),
            }
        )

    def _stream_section(
        self,
        messages: list[dict[str, str]],
        budget: SectionBudget,
        index: int,
        partial: str,
        earlier: str,
        attempt: _Attempt,
        revising: bool = False,
    ) -> Iterator[Event]:
        """Stream until the section is long enough; cut loops and noise, extend short endings.

        Returns the section's text as the generator's return value."""
        text = partial
        extensions = 0
        watch_loops = self.settings.fight_repetition
        while True:
            if text and not self._room_to_continue(messages, text):
                break  # the context is full: end the section here rather than fail
            tally = WordTally(text)
            detector = LoopDetector(earlier + "\n\n" + text) if watch_loops else None
            request = self._request(
                messages, text, budget, tally, index, attempt.loop_cuts, revising
            )
            stop = "end"
            stream = self.backend.stream(request)
            try:
                for chunk in stream:
                    if text and tally.text == text and not self.backend.supports_prefill:
                        chunk = " " + chunk.lstrip()  # a continuation sent as a new reply
                    new_words = tally.feed(chunk)
                    yield SectionProgress(
                        index,
                        tally.text,
                        tally.words,
                        attempt.usage.output_tokens + self.backend.last_usage.output_tokens,
                    )
                    if detector and detector.feed_words(new_words):
                        stop = "loop"
                        break
                    if detector and ends_wordless(tally.text):
                        stop = "noise"
                        break
                    if tally.words >= budget.max_words:
                        stop = "too long"
                        break
                    if tally.words >= budget.target_words and ends_sentence(tally.text):
                        stop = "done"
                        break
            finally:
                stream.close()
            attempt.add(self.backend.last_usage)
            text = tally.text
            if stop in ("loop", "noise"):
                text = cut_at_sentence(text, min(loop_start(text, earlier), wordless_start(text)))
                yield LoopCut(index, count_words(text))
                if attempt.loop_cuts < self.settings.max_retries:
                    attempt.loop_cuts += 1
                    continue
                if stop == "noise":
                    break  # out of retries: the section ends where the noise began
                watch_loops = False  # out of retries: a repetitive section beats a missing one
            if stop == "too long":
                text = cut_at_sentence(text)
            if stop in ("done", "too long") or count_words(text) >= budget.min_words:
                break
            if extensions >= MAX_EXTENSIONS:
                break
            extensions += 1
        return clean_section(text, [s.title for s in self.brief.plan.sections])

    def _room_to_continue(self, messages: list[dict[str, str]], text: str) -> bool:
        """Whether the context still holds the prompt, the text so far and a useful continuation.

        Words are counted as CJK characters and English words, so a small model writing digits
        and punctuation can fill the context while a section still looks short."""
        if not self.backend.supports_prefill:
            messages = [*messages, {"role": "assistant", "content": text}]
            text = ""
        used = self.backend.count_tokens(messages, text)
        return used + MIN_CONTINUATION_TOKENS < self.backend.info.context_length

    def _request(
        self,
        messages: list[dict[str, str]],
        text: str,
        budget: SectionBudget,
        tally: WordTally,
        index: int,
        round_: int,
        revising: bool = False,
    ) -> ChatRequest:
        written = count_words(text)
        remaining_words = max(budget.min_words - written, 0)
        max_tokens = (
            math.ceil(max(budget.max_words - written, 20) * self.tokens_per_word * 1.3) + 64
        )
        if self.backend.supports_prefill:
            return ChatRequest(
                messages=messages,
                prefill=text,
                max_tokens=max_tokens,
                sampling=self._sampling(index, round_),
                keep_going=lambda: tally.words < budget.min_words,
                no_repeat_ngram=NO_REPEAT_TOKENS if self.settings.fight_repetition else 0,
                no_repeat_reply_only=revising,
            )
        if text:  # a server cannot continue a reply: ask for the rest in a new turn
            more = max(budget.target_words - count_words(text), 20)
            messages = [
                *messages,
                {"role": "assistant", "content": text},
                {
                    "role": "user",
                    "content": render(self.brief.language, "continue", index=index + 1, words=more),
                },
            ]
        return ChatRequest(
            messages=messages,
            max_tokens=max_tokens,
            sampling=self._sampling(index, round_),
            min_tokens=math.ceil(remaining_words * self.tokens_per_word),
            no_repeat_ngram=NO_REPEAT_TOKENS if self.settings.fight_repetition else 0,
            no_repeat_reply_only=revising,
        )

    def _finish(self, index: int, text: str, target: int, attempt: _Attempt) -> SectionFinished:
        words = count_words(text)
        if words and attempt.usage.output_tokens:
            observed = attempt.usage.output_tokens / max(words, 1)
            self.tokens_per_word = 0.5 * self.tokens_per_word + 0.5 * min(max(observed, 0.8), 4.0)
        stats = SectionStats(
            index=index,
            target_words=target,
            words=words,
            length_score=length_score(target, words),
            output_tokens=attempt.usage.output_tokens,
            prompt_tokens_sent=attempt.usage.prompt_tokens_sent,
            prompt_tokens_evaluated=attempt.usage.prompt_tokens_evaluated,
            retries=attempt.loop_cuts,
            repeated_8gram_share=repeated_ngram_share(text),
            decode_s=attempt.usage.decode_s,
        )
        return SectionFinished(index, text, stats)

    # -- single pass ----------------------------------------------------------------------
    def _write_single(self, partial: str) -> Iterator[Event]:
        """The whole piece in one reply to the bare instruction (the paper's baseline)."""
        target = self.brief.plan.total_words
        yield SectionStarted(0, 1, target)
        language = self.brief.language
        prompt = render(
            language,
            "single",
            instruction=self.brief.instruction.strip(),
            bible_block=bible_block(language, self.brief.bible),
        )
        messages = [{"role": "user", "content": prompt}]
        room = self.backend.info.context_length - self.backend.count_tokens(messages, partial)
        attempt = _Attempt()
        request = ChatRequest(
            messages=messages,
            prefill=partial if self.backend.supports_prefill else "",
            max_tokens=max(16, room - 8),
            sampling=self._sampling(0, 0),
        )
        tally = WordTally(partial if self.backend.supports_prefill else "")
        stream = self.backend.stream(request)
        try:
            for chunk in stream:
                tally.feed(chunk)
                yield SectionProgress(
                    0, tally.text, tally.words, self.backend.last_usage.output_tokens
                )
        finally:
            stream.close()
        attempt.add(self.backend.last_usage)
        yield self._finish(0, clean_section(tally.text), target, attempt)
