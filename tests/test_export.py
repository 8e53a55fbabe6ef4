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


BOOK = Document(
    "The Island",
    [("Ferry", "Mara crossed."), ("Inn", "She took a room."), ("Keeper", "Tobias limped.")],
    [("Arrival", 2), ("The Secret", 1)],
)
UNTITLED_SCENES = Document(
    "The Island",
    [("", "Mara crossed."), ("", "She took a room."), ("", "Tobias limped.")],
    [("Arrival", 2), ("The Secret", 1)],
)


def test_book_markdown_has_chapters_over_scenes_or_scene_breaks(tmp_path):
    path = tmp_path / "book.md"
    export_document(BOOK, "md", path)
    assert path.read_text(encoding="utf-8") == (
        "# The Island\n\n## Arrival\n\n### Ferry\n\nMara crossed.\n\n### Inn\n\n"
        "She took a room.\n\n## The Secret\n\n### Keeper\n\nTobias limped.\n"
    )
    export_document(UNTITLED_SCENES, "md", path)
    assert path.read_text(encoding="utf-8") == (
        "# The Island\n\n## Arrival\n\nMara crossed.\n\n* * *\n\nShe took a room.\n\n"
        "## The Secret\n\nTobias limped.\n"
    )


def test_book_html_nests_scene_headings_under_chapters(tmp_path):
    path = tmp_path / "book.html"
    export_document(BOOK, "html", path)
    page = path.read_text(encoding="utf-8")
    order = ["<h1>The Island</h1>", "<h2>Arrival</h2>", "<h3>Ferry</h3>", "<h3>Inn</h3>"]
    assert [page.index(tag) for tag in order] == sorted(page.index(tag) for tag in order)
    assert "<h2>The Secret</h2>" in page
    export_document(UNTITLED_SCENES, "html", path)
    assert path.read_text(encoding="utf-8").count("<hr") == 1


def test_book_docx_has_chapter_and_scene_heading_levels(tmp_path):
    path = tmp_path / "book.docx"
    export_document(BOOK, "docx", path)
    styled = [(p.style.name, p.text) for p in docx.Document(str(path)).paragraphs]
    assert styled == [
        ("Title", "The Island"),
        ("Heading 1", "Arrival"),
        ("Heading 2", "Ferry"),
        ("Normal", "Mara crossed."),
        ("Heading 2", "Inn"),
        ("Normal", "She took a room."),
        ("Heading 1", "The Secret"),
        ("Heading 2", "Keeper"),
        ("Normal", "Tobias limped."),
    ]
    export_document(UNTITLED_SCENES, "docx", path)
    texts = [p.text for p in docx.Document(str(path)).paragraphs]
    assert texts == [
        "The Island",
        "Arrival",
        "Mara crossed.",
        "* * *",
        "She took a room.",
        "The Secret",
        "Tobias limped.",
    ]


def test_book_epub_has_one_item_per_chapter_and_a_chapter_toc(tmp_path):
    path = tmp_path / "book.epub"
    export_document(BOOK, "epub", path)
    book = epub.read_epub(str(path))
    items = {
        item.get_name(): item.get_content().decode("utf-8")
        for item in book.get_items_of_type(ITEM_DOCUMENT)
        if not item.get_name().startswith("nav")
    }
    assert sorted(items) == ["chapter_1.xhtml", "chapter_2.xhtml"]
    first = items["chapter_1.xhtml"]
    assert first.index("<h1>Arrival</h1>") < first.index("<h2>Ferry</h2>") < first.index("Inn")
    assert "She took a room." in first and "Tobias limped." in items["chapter_2.xhtml"]
    assert [entry.title for entry in book.toc] == ["Arrival", "The Secret"]
    spine = [item_id for item_id, _ in book.spine]
    assert len(spine) == 3  # the navigation page, then the two chapters


def _book_project(db_path, headings: bool):
    """A stored two-level project: chapter 1 written, chapter 2 half written, chapter 3 not."""
    from engine.schema import Plan, WriteSettings
    from engine.store.database import Store

    def scene(title, chapter):
        return {"title": title, "main_point": f"{title} happens.", "words": 20, "chapter": chapter}

    plan = Plan.model_validate(
        {
            "chapters": [
                {"id": f"c{n}", "title": f"Chapter {n}", "summary": "Things.", "words": 40}
                for n in (1, 2, 3)
            ],
            "sections": [scene("Ferry", "c1"), scene("Inn", "c1"), scene("Keeper", "c2")]
            + [scene("Logbook", "c2"), scene("Thaw", "c3")],
        }
    )
    store = Store(db_path)
    settings = WriteSettings(section_headings=headings)
    project = store.create_project("Island", "A novel.", 100, settings=settings)
    store.save_plan(project, plan)
    for section in plan.sections[:3]:
        version = store.start_section(project, section.id)
        store.save_section(version, f"{section.title} text.", 3, done=True)
    return store, project


@pytest.mark.parametrize("headings", [True, False])
def test_a_stored_book_exports_its_written_chapters(db_path, tmp_path, headings):
    from engine.projects.run import project_document

    store, project = _book_project(db_path, headings)
    document = project_document(store, project)
    store.close()
    assert document.chapters == [("Chapter 1", 2), ("Chapter 2", 1)]
    titles = ["Ferry", "Inn", "Keeper"] if headings else ["", "", ""]
    assert document.sections == [
        (t, f"{s} text.") for t, s in zip(titles, ["Ferry", "Inn", "Keeper"], strict=True)
    ]
    path = tmp_path / "island.md"
    export_document(document, "md", path)
    text = path.read_text(encoding="utf-8")
    assert "## Chapter 2" in text and "Chapter 3" not in text
    assert ("### Inn" in text) == headings and ("* * *" in text) != headings


def test_epub_of_an_imported_manuscript_keeps_a_scene_break_in_its_chapter(tmp_path, db_path):
    """Reported: the part after `* * *` became a chapter headed "2"."""
    from engine.projects.importing import import_manuscript
    from engine.projects.run import project_document
    from engine.store.database import Store
    from harness.fake_backend import FakeBackend

    manuscript = tmp_path / "tower.md"
    manuscript.write_text(
        "# Tower\n\n## Dust\n\nThey climbed.\n\n* * *\n\nThe gears turned.\n\n"
        "## Gears\n\nThe clock ran.\n",
        encoding="utf-8",
    )
    store = Store(db_path)
    *_, imported = import_manuscript(store, manuscript, FakeBackend())
    path = tmp_path / "tower.epub"
    export_document(project_document(store, imported.project), "epub", path)
    book = epub.read_epub(str(path))
    items = {
        item.get_name(): item.get_content().decode("utf-8")
        for item in book.get_items_of_type(ITEM_DOCUMENT)
        if item.get_name().startswith("section_")
    }
    assert [title for title, _ in _toc(book)] == ["Dust", "Gears"]
    dust = items["section_1.xhtml"]
    assert "They climbed." in dust and "<hr" in dust and "The gears turned." in dust
    assert dust.index("They climbed.") < dust.index("<hr") < dust.index("The gears turned.")


def _toc(book) -> list[tuple[str, str]]:
    return [(link.title, link.href) for link in book.toc]
