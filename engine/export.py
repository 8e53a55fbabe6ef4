"""A written piece as Markdown, sanitized HTML, DOCX or EPUB, each declaring its language
(Chinese text: lang="zh-CN", and in DOCX an East Asian font, so readers pick CJK fonts).

Exports never fail for the text itself: characters XML cannot hold are cleaned out first
(engine.text_hygiene), and images that would load from another server (a tracking pixel in a
pasted or generated text) are removed, while local and data: images stay.
"""

import hashlib
import html
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path

import markdown
import nh3

from engine.errors import UserError
from engine.prompts import language_of
from engine.text_hygiene import clean_text

FORMATS = ("md", "html", "docx", "epub")
LANGUAGE_TAGS = {"zh": "zh-CN", "en": "en"}
# Word's usual Simplified Chinese faces: a serif for the text, a sans-serif for headings
EAST_ASIAN_FONTS = {
    "Normal": "SimSun",
    "Title": "Microsoft YaHei",
    "Heading 1": "Microsoft YaHei",
    "Heading 2": "Microsoft YaHei",
}
SCENE_BREAK = "* * *"
DOCX_PROPERTY_CHARS = 255  # python-docx refuses longer core properties
# attributes a browser or e-reader loads on its own, without a click
_AUTOLOADED = {"src", "srcset", "poster", "background", "lowsrc", "dynsrc"}


@dataclass
class Document:
    """A titled piece made of sections, each with an optional heading.

    A book's sections are its scenes, and `chapters` groups them: (chapter title, how many of
    the following sections it holds), in order. A flat piece has no chapters."""

    title: str
    sections: list[tuple[str, str]]  # (heading, text); heading "" for none
    chapters: list[tuple[str, int]] = field(default_factory=list)

    def parts(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(chapter title, its sections) for a book; ("", every section) for a flat piece."""
        if not self.chapters:
            return [("", self.sections)]
        parts, start = [], 0
        for title, count in self.chapters:
            parts.append((title, self.sections[start : start + count]))
            start += count
        return parts

    @property
    def body(self) -> str:
        """The prose alone, sections separated by blank lines (what lengths are measured on)."""
        return "\n\n".join(text for _, text in self.sections if text.strip())

    @property
    def language(self) -> str:
        """The BCP 47 tag of the text's language ("zh-CN" or "en")."""
        return LANGUAGE_TAGS[language_of(self.title + "\n" + self.body)]

    def cleaned(self) -> "Document":
        """The document with XML-incompatible characters cleaned out of every string."""
        return Document(
            clean_text(self.title),
            [(clean_text(heading), clean_text(text)) for heading, text in self.sections],
            [(clean_text(title), count) for title, count in self.chapters],
        )


def _scenes(sections: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A chapter's scenes as (heading, text) with a scene break ("* * *") as the heading of a
    scene without a title that follows another scene."""
    return [
        (heading or (SCENE_BREAK if i else ""), text) for i, (heading, text) in enumerate(sections)
    ]


def to_markdown(document: Document) -> str:
    """# title; a flat piece's sections under ##; a book's chapters under ## and their scenes
    under ### (or separated by scene breaks)."""
    book = bool(document.chapters)
    parts = [f"# {document.title}"]
    for chapter, sections in document.parts():
        if book:
            parts.append(f"## {chapter}")
        for heading, text in _scenes(sections) if book else sections:
            if heading:
                parts.append(
                    heading if heading == SCENE_BREAK else f"{'###' if book else '##'} {heading}"
                )
            parts.append(text.strip())
    return "\n\n".join(part for part in parts if part) + "\n"


def sanitize_html(fragment: str) -> str:
    """Only harmless markup survives: no scripts, event handlers or javascript: links, and
    nothing that loads from another server by itself (remote images)."""
    return nh3.clean(
        fragment,
        attribute_filter=_local_urls_only,
        url_schemes=nh3.ALLOWED_URL_SCHEMES | {"data"},
    )


def _local_urls_only(element: str, attribute: str, value: str) -> str | None:
    """Drop remote URLs from auto-loaded attributes; allow data: only as an image source."""
    url = value.strip().lower()
    if attribute in _AUTOLOADED and (url.startswith("//") or _scheme(url) not in ("", "data")):
        return None
    if _scheme(url) == "data" and not (
        element == "img" and attribute == "src" and url.startswith("data:image/")
    ):
        return None
    return value


def _scheme(url: str) -> str:
    head, colon, _ = url.partition(":")
    return head if colon and head.isascii() and head.isalpha() else ""


def markdown_to_safe_html(text: str) -> str:
    return sanitize_html(markdown.markdown(text, extensions=["extra"]))


@cache
def book_css() -> str:
    """The reading style of HTML and EPUB exports (assets/css/book.css)."""
    return (files("assets") / "css" / "book.css").read_text("utf-8")


def to_html(document: Document) -> str:
    body = markdown_to_safe_html(to_markdown(document))
    title = html.escape(document.title)
    return (
        f'<!doctype html>\n<html lang="{document.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>\n<style>\n{book_css()}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def write_docx(document: Document, path: Path) -> None:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    out = docx.Document()
    out.core_properties.title = document.title[:DOCX_PROPERTY_CHARS]
    out.core_properties.language = document.language
    if document.language != "en":
        for style, font in EAST_ASIAN_FONTS.items():
            east_asian_font(out.styles[style], font, document.language)
    out.add_heading(document.title, level=0)
    book = bool(document.chapters)
    for chapter, sections in document.parts():
        if book:
            out.add_heading(chapter, level=1)
        for heading, text in _scenes(sections) if book else sections:
            if heading == SCENE_BREAK:
                out.add_paragraph(SCENE_BREAK).alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif heading:
                out.add_heading(heading, level=2 if book else 1)
            for paragraph in text.split("\n\n"):
                if paragraph.strip():
                    out.add_paragraph(paragraph.strip())
    out.save(str(path))


def east_asian_font(style, font: str, language: str) -> None:
    """Give a DOCX style an East Asian font and language (w:rFonts w:eastAsia, w:lang)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = style.element.get_or_add_rPr()
    properties.get_or_add_rFonts().set(qn("w:eastAsia"), font)
    lang = properties.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        properties.append(lang)
    lang.set(qn("w:eastAsia"), language)


def write_epub(document: Document, path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    digest = hashlib.sha256((document.title + document.body).encode("utf-8")).hexdigest()
    book.set_identifier(f"longwrite-{digest[:16]}")
    book.set_title(document.title)
    book.set_language(document.language)
    style = epub.EpubItem(
        uid="style", file_name="style/book.css", media_type="text/css", content=book_css()
    )
    book.add_item(style)
    items = []
    for number, (chapter, sections) in enumerate(document.parts(), start=1):
        if document.chapters:  # one spine item per chapter, its scenes inside it
            item = epub.EpubHtml(
                title=chapter, file_name=f"chapter_{number}.xhtml", lang=document.language
            )
            item.content = f"<h1>{html.escape(chapter)}</h1>" + "".join(
                _epub_scene(heading, text) for heading, text in _scenes(sections)
            )
            items.append(item)
            continue
        for index, (heading, texts) in enumerate(_titled_runs(sections), start=1):
            name = heading or f"{index}"
            item = epub.EpubHtml(
                title=name, file_name=f"section_{index}.xhtml", lang=document.language
            )
            body = "".join(markdown_to_safe_html(text) for text in texts)
            item.content = f"<h2>{html.escape(name)}</h2>" + body
            items.append(item)
    for item in items:
        item.add_link(href="style/book.css", rel="stylesheet", type="text/css")
        book.add_item(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    # ebooklib swallows write errors (returning False, with a warning) unless told to raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if not epub.write_epub(str(path), book, {"raise_exceptions": True}):
            raise OSError(f"ebooklib could not write {path}")


def _titled_runs(sections: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """A flat piece's sections as (heading, texts): an untitled section goes on in the item of
    the section before it, as in the Markdown export (an imported scene that followed a `* * *`
    stays in its chapter instead of becoming one headed by its number)."""
    runs: list[tuple[str, list[str]]] = []
    for heading, text in sections:
        if heading or not runs:
            runs.append((heading, [text]))
        else:
            runs[-1][1].append(text)
    return runs


def _epub_scene(heading: str, text: str) -> str:
    if heading == SCENE_BREAK:
        top = '<p class="scene-break">* * *</p>'
    else:
        top = f"<h2>{html.escape(heading)}</h2>" if heading else ""
    return top + markdown_to_safe_html(text)


def export_document(document: Document, fmt: str, path: Path) -> None:
    """Write the document in one of FORMATS to path."""
    if fmt not in FORMATS:
        raise UserError(key="error.export_format", format=fmt, formats=", ".join(FORMATS))
    document = document.cleaned()
    try:
        if fmt == "md":
            path.write_text(to_markdown(document), encoding="utf-8")
        elif fmt == "html":
            path.write_text(to_html(document), encoding="utf-8")
        elif fmt == "docx":
            write_docx(document, path)
        else:
            write_epub(document, path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(key="error.export_unwritable", path=path, problem=reason) from None
