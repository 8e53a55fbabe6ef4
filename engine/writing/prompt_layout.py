"""How section prompts are laid out so consecutive sections share the longest token prefix.

The conversation grows by appending only: system, then one user turn holding the brief
(instruction, story bible, plan) and the first request, then for every written section its
text as an assistant turn and the next request as a user turn. The prompt for section k+1 is
the prompt for section k plus section k's text plus one short request, so llama.cpp evaluates
little more than the newly written text.

When the conversation would overflow the context window, the oldest sections are dropped in
one large step and replaced by a short recap inside the first user turn; the layout then stays
stable again for many sections.

A two-level plan (chapters of scenes) holds one chapter at a time in the conversation: the
first user turn carries the task, the chapters before it as their recaps ("what happened so
far"), the current chapter with its scenes, and the next chapters' summaries. The scenes of the
current chapter follow verbatim, trimmed the same way when they fill the context.

The story bible's pinned entries and style note sit in the first turn; every other entry goes
into the request for a scene when its name or an alias occurs in that scene's row, its
chapter's summary or the scene before, so a request never changes once sent.
"""

from dataclasses import dataclass, field
from functools import cached_property

from engine.prompts import Language, language_of, render
from engine.schema import Chapter, Plan
from engine.writing.bible import (
    BIBLE_SHARE_OF_CONTEXT,
    BibleEntry,
    always_entries,
    parse_bible,
    triggered_entries,
    within_budget,
)
from engine.writing.length_control import cut_at_sentence, scene_target
from engine.writing.style import style_text

RECAP_WORDS_PER_SECTION = 25
KEEP_AFTER_TRIM = 0.35  # share of the text budget kept after a trim
RECAPS_SHARE_OF_CONTEXT = 0.25  # the most of the context the chapter recaps may take
SHRUNK_RECAP_CHARS = {"en": 160, "zh": 60}  # an old recap's opening, when recaps fill up
RECAP_SHRINK_STEP = 8  # old recaps shrink this many at a time
CHAPTERS_COMING = 2  # next chapters whose summaries a chapter's prompt shows


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate for budgets (about 4 characters per token in English,
    two per Chinese character)."""
    cjk = sum(1 for char in text if "\u4e00" <= char <= "\u9fff")
    return 2 * cjk + (len(text) - cjk) // 4 + 1


@dataclass(frozen=True)
class Brief:
    """What every section prompt carries: the task, the story bible, the style and the plan;
    for a two-level plan also the recaps of written chapters (chapter id → recap)."""

    instruction: str
    plan: Plan
    bible: str = ""
    style: tuple[str, ...] = ()
    style_sample: str = ""
    recaps: dict[str, str] = field(default_factory=dict)
    context_tokens: int = 8192

    @property
    def language(self) -> Language:
        return language_of(self.instruction)

    @cached_property
    def entries(self) -> list[BibleEntry]:
        return parse_bible(self.bible)

    @property
    def bible_budget(self) -> int:
        return int(self.context_tokens * BIBLE_SHARE_OF_CONTEXT)

    @cached_property
    def pinned(self) -> list[BibleEntry]:
        """The entries every prompt carries (pinned ones and the style note) within the cap."""
        return within_budget(always_entries(self.entries), self.bible_budget, estimate_tokens)

    def scene_entries(self, written: list[str], index: int) -> list[BibleEntry]:
        """The entries the request for row `index` carries: those named in its row, its
        chapter's summary or the text before it, in the room the pinned ones leave."""
        row = self.plan.sections[index]
        chapter = self.plan.chapter_of(index)
        triggers = [row.title, row.main_point]
        if chapter is not None:
            triggers += [chapter.title, chapter.summary]
        if 0 < index <= len(written):
            triggers.append(written[index - 1])
        room = self.bible_budget - sum(estimate_tokens(e.render()) for e in self.pinned)
        found = triggered_entries(self.entries, triggers)
        return within_budget(found, room, estimate_tokens)


def pinned_bible_block(brief: Brief) -> str:
    entries = brief.pinned
    if not entries:
        return ""
    return render(brief.language, "bible", bible="\n\n".join(e.render() for e in entries))


def style_block(brief: Brief) -> str:
    style = style_text(brief.language, list(brief.style), brief.style_sample)
    return render(brief.language, "style", style=style) if style else ""


def brief_text(brief: Brief, index: int = 0) -> str:
    """The first user turn's brief for row `index` (the chapter of that row, in a two-level
    plan)."""
    if brief.plan.two_level:
        return chapter_brief_text(brief, brief.plan.chapter_of(index))
    language = brief.language
    rows = "\n".join(
        render(language, "plan_row", index=i, title=s.title, main_point=s.main_point, words=s.words)
        for i, s in enumerate(brief.plan.sections, start=1)
    )
    return render(
        language,
        "brief",
        instruction=brief.instruction.strip(),
        bible_block=style_block(brief) + pinned_bible_block(brief),
        section_count=len(brief.plan.sections),
        total_words=brief.plan.total_words,
        plan_rows=rows,
    )


def chapter_brief_text(brief: Brief, chapter: Chapter) -> str:
    language, plan = brief.language, brief.plan
    number = plan.chapter_index(chapter.id)
    scenes = plan.scenes(chapter.id)
    rows = "\n".join(
        render(language, "plan_row", index=i, title=s.title, main_point=s.main_point, words=s.words)
        for i, s in enumerate(scenes, start=1)
    )
    coming = plan.chapters[number + 1 : number + 1 + CHAPTERS_COMING]
    coming_next = ""
    if coming:
        listed = "; ".join(f"{c.title}: {c.summary}" for c in coming)
        coming_next = render(language, "coming_next", chapters=listed)
    return render(
        language,
        "chapter_brief",
        book_head=book_head(brief, number),
        chapter_count=len(plan.chapters),
        chapter_number=number + 1,
        chapter_title=chapter.title,
        chapter_words=plan.chapter_words(chapter),
        chapter_summary=chapter.summary,
        scene_rows=rows,
        coming_next=coming_next,
    )


def book_head(brief: Brief, chapter_number: int) -> str:
    """What every prompt of chapter `chapter_number` (0-based) begins with: the task, style,
    pinned bible entries, the book's size and the story so far. Scene plans and scenes share
    it, and the next chapter's only adds a recap at its end."""
    return render(
        brief.language,
        "book_head",
        instruction=brief.instruction.strip(),
        style_block=style_block(brief),
        bible_block=pinned_bible_block(brief),
        chapter_count=len(brief.plan.chapters),
        total_words=brief.plan.total_words,
        story_so_far=story_so_far(brief, chapter_number),
    )


def story_so_far(brief: Brief, before: int) -> str:
    """The chapters before chapter `before` as their recaps (their summaries where no recap
    exists). When they outgrow their share of the context the oldest shrink to their opening,
    then to their titles, RECAP_SHRINK_STEP chapters at a time: each new recap is appended, so
    the text before it, and llama.cpp's cache of it, stays the same for several chapters."""
    chapters = brief.plan.chapters[:before]
    if not chapters:
        return ""
    budget = int(brief.context_tokens * RECAPS_SHARE_OF_CONTEXT)
    full, opening, title_only = [], [], []
    for number, chapter in enumerate(chapters):
        recap_text = brief.recaps.get(chapter.id) or chapter.summary
        shrunk = cut_at_sentence(recap_text, SHRUNK_RECAP_CHARS[brief.language]) or recap_text
        for text, kind in ((recap_text, full), (shrunk, opening), ("", title_only)):
            line = render(
                brief.language, "recap_line", number=number + 1, title=chapter.title, recap=text
            )
            kind.append(line.rstrip(" :：") if not text else line)
    lines = full
    for shorter in (opening, title_only):
        count = 0
        while estimate_tokens("\n".join(lines)) > budget and count < len(chapters):
            count = min(count + RECAP_SHRINK_STEP, len(chapters))
            lines = shorter[:count] + lines[count:]
    return render(brief.language, "story_so_far", recaps="\n".join(lines))


def section_request(brief: Brief, index: int, written: list[str]) -> str:
    """The request for row `index`, with the bible entries it calls for (`written` holds the
    texts before it)."""
    section = brief.plan.sections[index]
    entries = brief.scene_entries(written, index)
    entries_block = ""
    if entries:
        listed = "\n".join(entry.render() for entry in entries)
        entries_block = "\n" + render(brief.language, "entries", entries=listed)
    chapter = brief.plan.chapter_of(index)
    if chapter is None:
        return (
            render(
                brief.language,
                "section",
                index=index + 1,
                section_count=len(brief.plan.sections),
                title=section.title,
                main_point=section.main_point,
                words=section.words,
            )
            + entries_block
        )
    scenes = brief.plan.scene_range(chapter.id)
    return render(
        brief.language,
        "scene",
        index=index - scenes.start + 1,
        scene_count=len(scenes),
        title=section.title,
        main_point=section.main_point,
        words=scene_target(brief.plan, written, index),
        entries_block=entries_block,
    )


def recap(brief: Brief, texts: list[str], start: int = 0) -> str:
    """A short extractive summary of dropped rows start..start+len(texts)-1: each one's opening
    sentences."""
    lines = []
    for i, text in enumerate(texts):
        words = text.split()
        opening = " ".join(words[:RECAP_WORDS_PER_SECTION])
        if brief.language == "zh":
            opening = text[: RECAP_WORDS_PER_SECTION * 2]
        title = brief.plan.sections[start + i].title
        lines.append(f"{i + 1}. {title}: {cut_at_sentence(opening) or opening}")
    template = "scene_recap" if start or brief.plan.two_level else "recap"
    return render(brief.language, template, dropped=len(texts), summary="\n".join(lines))


def chapter_start(plan: Plan, index: int) -> int:
    """The first row of row `index`'s chapter (0 in a flat plan)."""
    chapter = plan.chapter_of(index)
    return plan.scene_range(chapter.id).start if chapter else 0


def section_messages(
    brief: Brief, written: list[str], index: int, dropped: int
) -> list[dict[str, str]]:
    """Chat messages asking for section `index`, after `written` (texts of sections 0..index-1),
    of which the first `dropped` are replaced by a recap (in a two-level plan, the rows of
    earlier chapters are always left out: their chapters' recaps stand for them)."""
    language = brief.language
    start = chapter_start(brief.plan, index)
    dropped = max(dropped, start)
    first = brief_text(brief, index)
    if dropped > start:
        first += "\n\n" + recap(brief, written[start:dropped], start)
    messages = [
        {"role": "system", "content": render(language, "system")},
        {
            "role": "user",
            "content": first + "\n\n" + section_request(brief, dropped, written),
        },
    ]
    for j in range(dropped, index):
        messages.append({"role": "assistant", "content": written[j]})
        messages.append({"role": "user", "content": section_request(brief, j + 1, written)})
    return messages


def sections_to_drop(
    section_tokens: list[int], fixed_tokens: int, context: int, reserve: int, dropped: int
) -> int:
    """How many leading sections to drop so the prompt plus `reserve` new tokens fit `context`.

    Returns `dropped` unchanged while everything fits; otherwise drops enough that the kept
    sections take at most KEEP_AFTER_TRIM of the room, so the next trim is far away.
    """
    room = context - fixed_tokens - reserve
    if sum(section_tokens[dropped:]) <= room:
        return dropped
    keep_budget = max(0, int(room * KEEP_AFTER_TRIM))
    new_dropped = len(section_tokens)
    kept = 0
    while new_dropped > dropped and kept + section_tokens[new_dropped - 1] <= keep_budget:
        new_dropped -= 1
        kept += section_tokens[new_dropped]
    return max(new_dropped, dropped + 1)
