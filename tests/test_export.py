"""Exports open in the libraries that read those formats, and HTML never carries scripts."""

import docx
import pytest
from ebooklib import ITEM_DOCUMENT, epub

from engine.errors import UserError
from engine.export import Document, export_document

HOSTILE = (
    "The door opened. <script>alert('x')</script>\n\n"
    'She saw <img src="x" onerror="alert(1)"> a [link](javascript:alert(2)) and 字数 too.'
)
DOCUMENT = Document("The Door", [("Opening", HOSTILE), ("Closing", "It shut again.")])


def test_html_is_sanitized(tmp_path):
    path = tmp_path / "door.html"
    export_document(DOCUMENT, "html", path)
    page = path.read_text(encoding="utf-8").lower()
    assert "<script" not in page and "onerror" not in page and "javascript:" not in page
    assert "the door opened." in page and "<h2>opening</h2>" in page


def test_markdown_keeps_headings_and_text(tmp_path):
    path = tmp_path / "door.md"
    export_document(DOCUMENT, "md", path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# The Door") and "## Closing" in text and "It shut again." in text


def test_docx_opens_with_every_paragraph(tmp_path):
    path = tmp_path / "door.docx"
    export_document(DOCUMENT, "docx", path)
    paragraphs = [p.text for p in docx.Document(str(path)).paragraphs]
    assert paragraphs[0] == "The Door"
    assert "Opening" in paragraphs and "It shut again." in paragraphs


def test_epub_opens_with_one_sanitized_chapter_per_section(tmp_path):
    path = tmp_path / "door.epub"
    export_document(DOCUMENT, "epub", path)
    book = epub.read_epub(str(path))
    chapters = [
        item.get_content().decode("utf-8")
        for item in book.get_items_of_type(ITEM_DOCUMENT)
        if item.get_name().startswith("section_")
    ]
    assert len(chapters) == 2
    assert "<script" not in chapters[0].lower() and "onerror" not in chapters[0].lower()
    assert "It shut again." in chapters[1]


def test_unwritable_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="another"):
        export_document(DOCUMENT, "md", tmp_path / "missing-folder" / "door.md")
