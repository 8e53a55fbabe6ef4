"""HTML for the document view: finished sections rendered once, the active one as plain text.

Everything model-written or user-typed goes through engine.export's nh3 sanitizer (Markdown
sections) or html.escape (the streaming section and recaps), so `<script>` or `onerror=` never
runs. A two-level piece shows each chapter as a collapsible group ending with its recap; the
last group is left unclosed (the browser closes it), so a section or recap joining the last
chapter only appends to the HTML and Gradio sends the browser just the new end.
"""

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache

from app.studio.language import t
from engine.export import markdown_to_safe_html, sanitize_html


def empty_document() -> str:
    return f'<p class="lw-empty">{html.escape(t("write.empty_document"))}</p>'


# Plain prose: no character or line start that Markdown (with "extra") would read as markup
_MARKUP_CHARACTER = re.compile(r"[\\`*_\[\]{}<>&|~^$]")
_MARKUP_LINE = re.compile(r"^(?:[ \t]|[-+=#>:]|\d+[.)])|[ \t]{2,}$", re.MULTILINE)


def prose_html(text: str) -> str:
    """A section as sanitized HTML: Markdown's own paragraphs for plain prose (the same HTML,
    ten times faster, which keeps a 100,000-word document quick to open), Markdown otherwise."""
    if _MARKUP_CHARACTER.search(text) or _MARKUP_LINE.search(text):
        return markdown_to_safe_html(text)
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    return sanitize_html("\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs))


@lru_cache(maxsize=4096)
def section_html(index: int, title: str, text: str) -> str:
    """One finished section as sanitized HTML (cached: a finished section is rendered once)."""
    heading = f"<h3>{html.escape(title)}</h3>" if title else ""
    return f'<section class="lw-section" data-index="{index}">{heading}{prose_html(text)}</section>'


def document_html(sections: list[tuple[int, str, str]]) -> str:
    """The finished sections, in order; (index, title, text) each."""
    if not sections:
        return empty_document()
    return "".join(section_html(i, title, text) for i, title, text in sections)


@dataclass
class ChapterView:
    """A chapter of the document: its finished sections (index, title, text) and its recap."""

    number: int
    title: str
    sections: list[tuple[int, str, str]] = field(default_factory=list)
    recap: str = ""
    edited: bool = False


def recap_html(text: str, edited: bool) -> str:
    name = t("write.recap_edited" if edited else "write.recap")
    return (
        f'<div class="lw-recap"><strong>{html.escape(name)}</strong> '
        f"{html.escape(text, quote=False)}</div>"
    )


def book_html(chapters: list[ChapterView]) -> str:
    """Chapters as collapsible groups (only the last one open)."""
    if not chapters:
        return empty_document()
    parts = []
    for k, chapter in enumerate(chapters):
        last = k == len(chapters) - 1
        summary = t("write.chapter_heading", number=chapter.number, title=chapter.title)
        parts.append(
            f'{"</details>" if k else ""}<details class="lw-chapter"'
            f' data-chapter="{chapter.number}"{" open" if last else ""}>'
            f"<summary>{html.escape(summary)}</summary>"
        )
        parts += [section_html(i, title, text) for i, title, text in chapter.sections]
        if chapter.recap:
            parts.append(recap_html(chapter.recap, chapter.edited))
    return "".join(parts)


def active_text(text: str) -> str:
    """The section being written, escaped; it only grows, so Gradio sends just the new end."""
    return html.escape(text, quote=False)


def active_heading(index: int, count: int, title: str) -> str:
    return html.escape(
        t("write.active_heading", number=index + 1, count=count, title=title), quote=False
    )


def stopped_heading(index: int, count: int) -> str:
    return t("write.stopped_heading", number=index + 1, count=count)


def progress_line(
    section: int,
    count: int,
    words: int,
    target: int,
    tokens_per_s: float | None,
    eta_s: float | None,
) -> str:
    """`Section k of n · words / target · tok/s · ETA` for the progress box ("–" for a speed
    or a time left not known yet)."""
    eta = "–" if eta_s is None else f"{int(eta_s) // 60}:{int(eta_s) % 60:02d}"
    return t(
        "write.progress",
        number=section,
        count=count,
        words=f"{words:,}",
        target=f"{target:,}",
        speed="–" if tokens_per_s is None else f"{tokens_per_s:.0f}",
        eta=eta,
    )
