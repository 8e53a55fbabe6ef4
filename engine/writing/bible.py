"""The story bible as entries (characters, places, objects, terms, a style note), and which of
them a scene's prompt carries.

A bible is Markdown: one `## Name` heading per entry, optionally followed by an
`Aliases: a, b` line (`别名：`) and a `Pinned` line (`置顶`). Text without any `## ` heading
(every bible written before entries existed) is one pinned entry. An entry named Style (文风,
风格) is the style note and is always used, like a pinned one.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.prompts import language_of

BIBLE_SHARE_OF_CONTEXT = 0.2  # the most of the context the bible's entries may take

_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_ALIASES = re.compile(r"^(?:aliases|also|别名|又名)\s*[:：]\s*(.*)$", re.IGNORECASE)
_PINNED = re.compile(r"^(?:pinned|always|置顶|始终)\s*[.。]?$", re.IGNORECASE)
STYLE_NAMES = {"style", "style note", "文风", "风格"}


@dataclass(frozen=True)
class BibleEntry:
    name: str
    text: str
    aliases: tuple[str, ...] = ()
    pinned: bool = False
    untitled: bool = False  # free text without a heading: shown as it is

    @property
    def always(self) -> bool:
        """Pinned entries and the style note go into every prompt."""
        return self.pinned or self.name.strip().lower() in STYLE_NAMES

    def mentioned_in(self, text: str) -> bool:
        """Whether the entry's name or an alias occurs in `text` (whole words, any case; any
        occurrence for Chinese names)."""
        return any(_mentions(name, text) for name in (self.name, *self.aliases) if name.strip())

    def render(self) -> str:
        if self.untitled:
            return self.text
        return f"{self.name}: {self.text}" if self.text else self.name


def _mentions(name: str, text: str) -> bool:
    name = name.strip()
    if language_of(name) == "zh":
        return name in text
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None


def parse_bible(text: str) -> list[BibleEntry]:
    """The entries of a bible (see the module docstring); [] for an empty one."""
    text = (text or "").strip()
    if not text:
        return []
    headings = list(_HEADING.finditer(text))
    if not headings:
        return [BibleEntry(_whole_bible_name(text), text, pinned=True, untitled=True)]
    entries = []
    before = text[: headings[0].start()].strip()
    if before:  # text above the first heading: general notes, always used
        entries.append(BibleEntry(_whole_bible_name(before), before, pinned=True, untitled=True))
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        entries.append(_entry(heading.group(1), text[heading.end() : end]))
    return entries


def _whole_bible_name(text: str) -> str:
    return "设定" if language_of(text) == "zh" else "Notes"


def _entry(name: str, body: str) -> BibleEntry:
    aliases: tuple[str, ...] = ()
    pinned = False
    lines = []
    for line in body.strip().splitlines():
        stripped = line.strip()
        if not lines and (match := _ALIASES.match(stripped)):
            aliases = tuple(a.strip() for a in re.split(r"[,，、;；]", match.group(1)) if a.strip())
        elif not lines and _PINNED.match(stripped):
            pinned = True
        else:
            lines.append(line)
    return BibleEntry(
        name=name.strip(), text="\n".join(lines).strip(), aliases=aliases, pinned=pinned
    )


def bible_markdown(entries: list[BibleEntry]) -> str:
    """Entries back in the Markdown form parse_bible reads."""
    parts = []
    for entry in entries:
        lines = [f"## {entry.name}"]
        if entry.aliases:
            lines.append("Aliases: " + ", ".join(entry.aliases))
        if entry.pinned:
            lines.append("Pinned")
        if entry.text:
            lines.append(entry.text)
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def always_entries(entries: list[BibleEntry]) -> list[BibleEntry]:
    return [entry for entry in entries if entry.always]


def triggered_entries(entries: list[BibleEntry], triggers: list[str]) -> list[BibleEntry]:
    """The entries (not pinned) whose name or an alias occurs in one of the trigger texts."""
    return [
        entry
        for entry in entries
        if not entry.always and any(entry.mentioned_in(text) for text in triggers if text)
    ]


def within_budget(
    entries: list[BibleEntry], budget_tokens: int, count: Callable[[str], int]
) -> list[BibleEntry]:
    """The entries, in order, that fit `budget_tokens`; an entry that does not fit is skipped."""
    kept, used = [], 0
    for entry in entries:
        cost = count(entry.render())
        if used + cost <= budget_tokens:
            kept.append(entry)
            used += cost
    return kept
