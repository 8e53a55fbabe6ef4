"""Per-section length control: when a section may end, when it must, and where to cut it."""

import math
import re
from dataclasses import dataclass

from engine.metrics import count_words, words_of
from engine.schema import Plan

MIN_SHARE = 0.9  # a section may not end before 90 % of its target
MAX_SHARE = 1.2  # and is cut at a sentence boundary once it passes 120 %

_SENTENCE_END = re.compile(r"[.!?。！？…][\"'”’)\]」』]*(?=\s|$)|[。！？]")
_ENDS_SENTENCE = re.compile(r"(?:[.!?…][\"'”’)\]」』]*|[。！？][”」』]*)$")
_LEADING_LABEL = re.compile(
    r"\A\s*(?:#{1,6}\s.*|\*\*[^*\n]{1,120}\*\*|(?:section|paragraph|part|chapter)\s*\d+\b.*"
    r"|第\s*[0-9一二三四五六七八九十百]+\s*[节章段部].*)\n+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SectionBudget:
    """Word limits and a token cap for one section."""

    target_words: int
    tokens_per_word: float
    max_share: float = MAX_SHARE

    @property
    def min_words(self) -> int:
        return math.floor(self.target_words * MIN_SHARE)

    @property
    def max_words(self) -> int:
        return math.ceil(self.target_words * self.max_share) + 5

    @property
    def max_tokens(self) -> int:
        return math.ceil(self.max_words * self.tokens_per_word * 1.3) + 64


def scene_target(plan: Plan, written: list[str], index: int) -> int:
    """Row `index`'s word target: its planned words, plus what the scenes before it in its
    chapter fell short by (`written` holds their texts), so one scene cut short does not leave
    its chapter short. A row of a flat plan keeps its planned words."""
    row = plan.sections[index]
    if row.chapter is None:
        return row.words
    earlier = range(plan.scene_range(row.chapter).start, index)
    planned = sum(plan.sections[j].words for j in earlier)
    done = sum(count_words(written[j]) for j in earlier)
    return row.words + max(0, planned - done)


class WordTally:
    """Counts the words of a text that arrives in chunks, without recounting it each time."""

    def __init__(self, text: str = ""):
        self.text = ""
        self._counted_upto = 0
        self._count = 0
        self.feed(text)

    def feed(self, chunk: str) -> list[str]:
        """Append a chunk; return the words it completed (a word still growing waits)."""
        self.text += chunk
        safe = len(self.text)
        while safe > self._counted_upto and _in_word(self.text[safe - 1]):
            safe -= 1
        completed = words_of(self.text[self._counted_upto : safe])
        self._count += len(completed)
        self._counted_upto = safe
        return completed

    @property
    def words(self) -> int:
        return self._count + count_words(self.text[self._counted_upto :])


def _in_word(char: str) -> bool:
    return char.isascii() and char.isalpha()


def ends_sentence(text: str) -> bool:
    """True when the text, trailing spaces aside, ends with a finished sentence."""
    return bool(_ENDS_SENTENCE.search(text.rstrip()[-8:]))


def cut_at_sentence(text: str, before: int | None = None) -> str:
    """The text up to the last sentence end at or before position `before` (at a space if none)."""
    head = text[: len(text) if before is None else before]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends:
        return head[: ends[-1]]
    space = head.rstrip().rfind(" ")
    return head[:space] if space > 0 else head


_WORD_COUNT_NOTE = re.compile(r"[(（]\s*(?:about\s*|约)?\d+\s*(?:words?|字)\s*[)）]", re.IGNORECASE)


def clean_section(text: str, plan_titles: list[str] | None = None) -> str:
    """Drop lines the model added around the prose: leading headings and "Section N" labels, and
    anywhere an echo of a plan row (a line naming a section title or ending in "(N words)")."""
    titles = [t.lower()[:12] for t in plan_titles or [] if t.strip()]
    kept: list[str] = []
    for line in text.strip().split("\n"):
        bare = line.strip().lstrip("#*0123456789. ").lower()
        short = count_words(line) <= 40
        echo = short and (
            bool(_WORD_COUNT_NOTE.search(line)) or any(bare.startswith(t) for t in titles)
        )
        label = short and not any(k.strip() for k in kept) and _LEADING_LABEL.match(line + "\n")
        if not (echo or label):
            kept.append(line)
    paragraphs = [line.strip() for line in kept if line.strip()]
    return "\n\n".join(paragraphs)
