"""Importing a manuscript: splitting .md/.txt/.docx, model summaries, the exact export round
trip through the real command line, and bad files refused with one line."""

import docx
import pytest

from engine.errors import UserError
from engine.metrics import count_words
from engine.projects.importing import (
    MAX_TEXT_BYTES,
    SUMMARY_INPUT_TOKENS,
    SUMMARY_MAX_TOKENS,
    Imported,
    ImportProgress,
    default_import_name,
    first_sentence,
    import_manuscript,
    read_manuscript,
)
from engine.store.database import Store
from harness.fake_backend import FakeBackend, prose
from tests.conftest import one_line_error, run_cli

BOOK = """# The Clock Tower

An epigraph nobody reads.

## Dust

The sisters climbed the tower. It was dark and the stairs creaked.

They found the *old* mechanism under a tarpaulin.

***

Later that night the gears turned by themselves.

## Gears

### A workshop

```
# not a heading: inside code
```

They got the clock going again.
"""


def _import(db, path, script=(), name=None):
    store = Store(db)
    backend = FakeBackend(script)
    events = list(import_manuscript(store, path, backend, name))
    assert isinstance(events[-1], Imported)
    return store, events[-1].project, events, backend


def _rows(store, project):
    plan = store.plan(project)
    texts = {s.section_id: s for s in store.sections(project)}
    return [(row, texts[row.id]) for row in plan.sections]


def test_markdown_splits_on_headings_and_scene_breaks(tmp_path, db_path):
    path = tmp_path / "clock.md"
    path.write_text(BOOK, encoding="utf-8")
    manuscript = read_manuscript(path)
    assert manuscript.title == "The Clock Tower"
    store, project, events, _ = _import(db_path, path)
    assert project.name == "The Clock Tower" and project.status == "done"
    rows = _rows(store, project)
    assert [(row.title, row.heading) for row, _ in rows] == [
        ("Part 1", False),
        ("Dust", True),
        ("Part 3", False),
        ("Gears", True),
    ]
    assert [s.text for _, s in rows] == [
        "An epigraph nobody reads.",
        "The sisters climbed the tower. It was dark and the stairs creaked.\n\n"
        "They found the *old* mechanism under a tarpaulin.",
        "***\n\nLater that night the gears turned by themselves.",
        "### A workshop\n\n```\n# not a heading: inside code\n```\n\n"
        "They got the clock going again.",
    ]
    for row, section in rows:
        assert section.status == "done"
        assert row.words == count_words(section.text)
    progress = [e for e in events if isinstance(e, ImportProgress)]
    assert [(e.piece, e.count) for e in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_summaries_are_one_line_and_fall_back_to_the_first_sentence(tmp_path, db_path):
    path = tmp_path / "clock.md"
    path.write_text(BOOK, encoding="utf-8")
    replies = ["Summary: An epigraph.\nSecond line", "", "  - The gears turn.  ", "x" * 5000]
    store, project, _, backend = _import(db_path, path, replies)
    points = [row.main_point for row, _ in _rows(store, project)]
    assert points == [
        "An epigraph.",
        "The sisters climbed the tower.",  # an empty reply: the piece's first sentence
        "The gears turn.",
        "x" * 4000,
    ]
    assert len(backend.requests) == 4
    assert all(r.max_tokens == SUMMARY_MAX_TOKENS for r in backend.requests)
    assert "They found the *old* mechanism" in backend.requests[1].messages[0]["content"]


def test_a_failing_model_falls_back_and_a_long_piece_is_cut_for_the_prompt(tmp_path, db_path):
    path = tmp_path / "long.txt"
    path.write_text(prose(3000) + "\n\n* * *\n\nShort scene. The end.\n", encoding="utf-8")

    def broken(request):
        if len(backend.requests) == 2:
            raise RuntimeError("the server went away")
        return "A long walk."

    store = Store(db_path)
    backend = FakeBackend(broken)
    events = list(import_manuscript(store, path, backend, "walk"))
    rows = _rows(store, events[-1].project)
    assert [row.main_point for row, _ in rows] == ["A long walk.", "Short scene."]
    assert [row.title for row, _ in rows] == ["Part 1", "Part 2"]
    first_prompt = backend.requests[0].messages[0]["content"]
    assert len(first_prompt.split()) < SUMMARY_INPUT_TOKENS + 60
    assert rows[0][1].text == prose(3000)  # the saved text is whole


def test_docx_splits_on_title_heading_styles_and_scene_breaks(tmp_path, db_path):
    document = docx.Document()
    document.add_heading("Harbour Tales", level=0)
    document.add_paragraph("A word before the first chapter.")
    document.add_heading("The Ferry", level=1)
    document.add_paragraph("The ferry left at dawn.")
    document.add_paragraph("Gulls followed it.")
    document.add_paragraph("* * *")
    document.add_paragraph("At noon it reached the island.")
    document.add_heading("The Island", level=2)
    document.add_paragraph("Nobody lived there any more.")
    path = tmp_path / "tales.docx"
    document.save(path)
    store, project, _, _ = _import(db_path, path)
    assert project.name == "Harbour Tales"
    rows = _rows(store, project)
    assert [(row.title, s.text) for row, s in rows] == [
        ("Part 1", "A word before the first chapter."),
        ("The Ferry", "The ferry left at dawn.\n\nGulls followed it."),
        ("Part 3", "* * *\n\nAt noon it reached the island."),
        ("The Island", "Nobody lived there any more."),
    ]


def test_markdown_round_trips_byte_for_byte_through_export(tmp_path, db_path):
    path = tmp_path / "clock.md"
    path.write_text(BOOK, encoding="utf-8")
    _import(db_path, path)
    out = tmp_path / "out.md"
    result = run_cli(
        "export", "doc", "The Clock Tower", "--format", "md", "-o", str(out), "--db", str(db_path)
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == path.read_bytes()


def test_a_docx_export_imports_back_into_the_same_sections(tmp_path, db_path):
    path = tmp_path / "clock.md"
    path.write_text(BOOK, encoding="utf-8")
    store, project, _, _ = _import(db_path, path)
    exported = tmp_path / "clock.docx"
    result = run_cli(
        "export", "doc", project.name, "--format", "docx", "-o", str(exported), "--db", str(db_path)
    )
    assert result.returncode == 0, result.stderr
    again, copy, _, _ = _import(tmp_path / "again.db", exported)
    assert copy.name == project.name
    assert [(r.title, r.heading, s.text) for r, s in _rows(again, copy)] == [
        (r.title, r.heading, s.text) for r, s in _rows(store, project)
    ]


@pytest.mark.parametrize(
    "name, text, exported",
    [
        # Imported under another name, the title stays as the first section's heading.
        (
            "draft two",
            "# Tide\n\nFirst.\n\n## Ebb\n\nSecond.\n",
            "# draft two\n\n## Tide\n\nFirst.\n\n## Ebb\n\nSecond.\n",
        ),
        # No headings at all: scenes without invented headings.
        (
            "scenes",
            "One scene.\n\n* * *\n\nAnother.\n",
            "# scenes\n\nOne scene.\n\n* * *\n\nAnother.\n",
        ),
        # One headed piece keeps its heading line (a one-section document has no headings).
        ("alone", "## Only\n\nText.\n", "# alone\n\n## Only\n\nText.\n"),
        # Chinese, with CRLF line endings made "\n".
        (
            "潮汐",
            "# 潮汐\r\n\r\n## 第一章\r\n\r\n海水退了。\r\n\r\n## 第二章\r\n\r\n海水又来了。\r\n",
            "# 潮汐\n\n## 第一章\n\n海水退了。\n\n## 第二章\n\n海水又来了。\n",
        ),
    ],
)
def test_export_after_import_gives_back_headings_and_paragraphs(
    tmp_path, db_path, name, text, exported
):
    path = tmp_path / "piece.txt"
    path.write_bytes(text.encode("utf-8"))
    _import(db_path, path, name=name)
    out = tmp_path / "out.md"
    result = run_cli("export", "doc", name, "-o", str(out), "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == exported


def test_first_sentence_skips_breaks_and_headings():
    assert first_sentence("***\n\n### Aside\n\nHe left. She stayed.") == "He left."
    assert first_sentence("他走了。她留下了。") == "他走了。"
    assert first_sentence("No full stop here") == "No full stop here"


@pytest.mark.parametrize(
    "file_name, content, hint",
    [
        ("latin1.md", "Caf\xe9 cr\xe8me.\n".encode("latin-1"), "UTF-8"),
        ("empty.md", b"\n  \n", "empty"),
        ("corrupt.docx", b"PK\x03\x04 this is no zip archive", "docx"),
        ("text.docx", b"plain text pretending", "docx"),
        ("huge.txt", b"word " * (MAX_TEXT_BYTES // 5 + 1), "2 MB"),
        ("notes.pdf", b"%PDF-1.4", ".md, .txt or .docx"),
        ("missing.md", None, "Cannot read"),
    ],
    ids=["not-utf8", "empty", "corrupt-docx", "text-as-docx", "over-2mb", "pdf", "missing"],
)
def test_bad_files_get_one_line_and_exit_2(tmp_path, db_path, file_name, content, hint):
    path = tmp_path / file_name
    if content is not None:
        path.write_bytes(content)
    result = run_cli("import", str(path), "--project", "x", "--db", str(db_path), timeout=120)
    assert hint.lower() in one_line_error(result).lower()
    store = Store(db_path)
    assert store.list_projects() == []


def test_importing_a_title_again_names_it_title_2_and_a_taken_name_is_refused(tmp_path, db_path):
    path = tmp_path / "clock.md"
    path.write_text(BOOK, encoding="utf-8")
    store, first, _, _ = _import(db_path, path)
    assert default_import_name(store, path) == "The Clock Tower (2)"
    _, again, _, _ = _import(db_path, path)
    assert again.name == "The Clock Tower (2)"
    # the title still heads the document rather than becoming a section
    assert [row.title for row, _ in _rows(store, again)] == [
        row.title for row, _ in _rows(store, first)
    ]
    assert {text.kind for _, text in _rows(store, again)} == {"imported"}
    assert default_import_name(store, path) == "The Clock Tower (3)"
    with pytest.raises(UserError, match="exists already"):
        list(import_manuscript(Store(db_path), path, FakeBackend(), "The Clock Tower"))
    result = run_cli(
        "import", str(path), "--project", "The Clock Tower", "--db", str(db_path), timeout=120
    )
    assert "exists already" in one_line_error(result)  # refused before a model loads
    _, named, _, _ = _import(db_path, path, name="Clock, second draft")
    assert named.name == "Clock, second draft"


def test_too_many_pieces_is_refused(tmp_path, db_path):
    path = tmp_path / "many.md"
    path.write_text("".join(f"## Part {i}\n\nText {i}.\n\n" for i in range(61)), encoding="utf-8")
    with pytest.raises(UserError, match="at most 60"):
        list(import_manuscript(Store(db_path), path, FakeBackend()))


@pytest.mark.slow  # runs the embedded model
def test_embedded_model_summarizes_a_three_piece_import(tmp_path, db_path):
    path = tmp_path / "harbour.md"
    titles = ["Storm", "Lamp", "Dawn"]
    pieces = [
        "The fishing boats came back early because a storm was rising over the bay. "
        "Mara tied her boat to the pier and ran to warn her grandfather.",
        "The storm broke the old lighthouse lamp. Mara and her grandfather climbed the tower "
        "with a lantern and kept it burning through the night.",
        "In the morning the sea was calm. A ship that had been lost in the dark came into the "
        "harbour, and its captain thanked them for the light.",
    ]
    path.write_text(
        "# Harbour\n\n"
        + "\n\n".join(f"## {t}\n\n{p}" for t, p in zip(titles, pieces, strict=True))
        + "\n",
        encoding="utf-8",
    )
    result = run_cli("import", str(path), "--project", "Harbour", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert "Summarizing piece 3/3: Dawn" in result.stderr
    store = Store(db_path)
    rows = _rows(store, store.project("Harbour"))
    assert [(row.title, s.text) for row, s in rows] == list(zip(titles, pieces, strict=True))
    for row, _ in rows:
        assert row.main_point.strip() and "\n" not in row.main_point
        assert len(row.main_point) <= 4000
    drafted = [row.main_point != first_sentence(s.text) for row, s in rows]
    assert any(drafted), [row.main_point for row, _ in rows]
