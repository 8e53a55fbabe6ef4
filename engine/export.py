"""A written piece as Markdown, sanitized HTML, DOCX or EPUB, each declaring its language
(Chinese text: lang="zh-CN", and in DOCX an East Asian font, so readers pick CJK fonts).

Exports never fail for the text itself: characters XML cannot hold are cleaned out first
(engine.text_hygiene), and images that would load from another server (a tracking pixel in a
pasted or generated text) are removed, while local and data: images stay.
"""

import hashlib
import html
import warnings
from dataclasses import dataclass
from pathlib import Path

import markdown
import nh3

from engine.errors import UserError
from engine.prompts import language_of
from engine.text_hygiene import clean_text

FORMATS = ("md", "html", "docx", "epub")
LANGUAGE_TAGS = {"zh": "zh-CN", "en": "en"}
# Word's usual Simplified Chinese faces: a serif for the text, a sans-serif for headings
EAST_ASIAN_FONTS = {"Normal": "SimSun", "Title": "Microsoft YaHei", "Heading 1": "Microsoft YaHei"}
DOCX_PROPERTY_CHARS = 255  # python-docx refuses longer core properties
# attributes a browser or e-reader loads on its own, without a click
_AUTOLOADED = {"src", "srcset", "poster", "background", "lowsrc", "dynsrc"}


@dataclass
class Document:
    """A titled piece made of sections, each with an optional heading."""

    title: str
    sections: list[tuple[str, str]]  # (heading, text); heading "" for none

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
        )


def to_markdown(document: Document) -> str:
    parts = [f"# {document.title}"]
    for heading, text in document.sections:
        if heading:
            parts.append(f"## {heading}")
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


def to_html(document: Document) -> str:
    body = markdown_to_safe_html(to_markdown(document))
    title = html.escape(document.title)
    return (
        f'<!doctype html>\n<html lang="{document.language}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_docx(document: Document, path: Path) -> None:
    import docx

    out = docx.Document()
    out.core_properties.title = document.title[:DOCX_PROPERTY_CHARS]
    out.core_properties.language = document.language
    if document.language != "en":
        for style, font in EAST_ASIAN_FONTS.items():
            _east_asian(out.styles[style], font, document.language)
    out.add_heading(document.title, level=0)
    for heading, text in document.sections:
        if heading:
            out.add_heading(heading, level=1)
        for paragraph in text.split("\n\n"):
            if paragraph.strip():
                out.add_paragraph(paragraph.strip())
    out.save(str(path))


def _east_asian(style, font: str, language: str) -> None:
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
    chapters = []
    for number, (heading, text) in enumerate(document.sections, start=1):
        name = heading or f"{number}"
        chapter = epub.EpubHtml(
            title=name, file_name=f"section_{number}.xhtml", lang=document.language
        )
        chapter.content = f"<h2>{html.escape(name)}</h2>" + markdown_to_safe_html(text)
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    # ebooklib swallows write errors (returning False, with a warning) unless told to raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if not epub.write_epub(str(path), book, {"raise_exceptions": True}):
            raise OSError(f"ebooklib could not write {path}")


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
