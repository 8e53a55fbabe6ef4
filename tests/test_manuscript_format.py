"""The standard manuscript DOCX, opened with python-docx: margins, double spacing, the font,
the running header with its PAGE field, the title page's contact and rounded word count, a page
break before every chapter and centred "#" scene breaks; the author is saved once."""

import docx
import pytest
from click.testing import CliRunner
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.shared import Inches, Pt

from app.cli import cli
from engine.export import Document
from engine.metrics import count_words
from engine.projects.manuscript_format import Author, rounded_words, write_manuscript_docx
from engine.schema import Chapter, Plan, PlanSection
from engine.store.database import Store
from harness.fake_backend import prose

BOOK = Document(
    "The Lighthouse at Skerry Point",
    [("Ferry", prose(420, 1)), ("Inn", prose(380, 2)), ("Keeper", prose(460, 3))],
    [("Arrival", 2), ("The Secret", 1)],
)
AUTHOR = Author("Jane Q. Doe", "12 Harbour Road, Skerry\njane@example.org")


@pytest.fixture
def manuscript(tmp_path):
    path = tmp_path / "book.docx"
    write_manuscript_docx(BOOK, AUTHOR, path)
    return docx.Document(str(path))


def test_page_setup_font_and_spacing(manuscript):
    section = manuscript.sections[0]
    for side in (section.top_margin, section.bottom_margin, section.left_margin):
        assert side == Inches(1)
    assert section.right_margin == Inches(1)
    normal = manuscript.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(12)
    assert normal.paragraph_format.line_spacing_rule == WD_LINE_SPACING.DOUBLE
    assert normal.paragraph_format.first_line_indent == Inches(0.5)


def test_running_header_has_surname_short_title_and_a_page_field(manuscript):
    section = manuscript.sections[0]
    assert section.different_first_page_header_footer  # none on the title page
    header = section.header.paragraphs[0]
    assert header.text.startswith("Doe / THE LIGHTHOUSE AT / ")
    assert header.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    xml = header._p.xml
    assert 'w:fldCharType="begin"' in xml and "<w:instrText" in xml and " PAGE " in xml


def test_title_page_then_chapters_on_new_pages_with_scene_breaks(manuscript):
    paragraphs = manuscript.paragraphs
    texts = [p.text for p in paragraphs]
    assert texts[:4] == [
        "Jane Q. Doe",
        "12 Harbour Road, Skerry",
        "jane@example.org",
        "about 2,500 words",  # 2,520 words (each "a-b" pair is two), to the hundred
    ]
    assert count_words(BOOK.body) == 2520 and rounded_words(BOOK) == 2500
    assert paragraphs[3].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert "The Lighthouse at Skerry Point" in texts and "by Jane Q. Doe" in texts
    breaks = [p.text for p in paragraphs if p.paragraph_format.page_break_before]
    assert breaks == ["Arrival", "The Secret"]
    scene_breaks = [p for p in paragraphs if p.text == "#"]
    assert len(scene_breaks) == 1  # between the first chapter's two scenes
    assert scene_breaks[0].alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert "Ferry" not in texts  # scene titles are not printed in a manuscript
    assert manuscript.core_properties.author == "Jane Q. Doe"


def _project(db_path):
    store = Store(db_path)
    chapter = Chapter(title="One", summary="It starts.", words=200)
    plan = Plan(
        chapters=[chapter],
        sections=[PlanSection(title="A", main_point="B", words=200, chapter=chapter.id)],
    )
    project = store.create_project("Skerry", "Write a 200-word story.", 200)
    store.save_plan(project, plan)
    version = store.start_section(project, plan.ids[0], prose(200))
    store.save_section(version, prose(200), 0, done=True)
    store.update_project(project, title="The Skerry Light")
    return store


def test_the_command_saves_the_author_once(db_path, tmp_path):
    _project(db_path)
    runner = CliRunner()
    out = tmp_path / "m.docx"
    args = ["export", "doc", "Skerry", "--format", "docx", "--manuscript", "-o", str(out)]
    result = runner.invoke(cli, [*args, "--db", str(db_path)])
    assert result.exit_code == 2 and "--author" in result.output and not out.exists()
    result = runner.invoke(
        cli, [*args, "--db", str(db_path), "--author", "Ann Lee", "--contact", r"Ann\nStreet 1"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [*args, "--db", str(db_path)])  # saved: no --author needed
    assert result.exit_code == 0, result.output
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    assert texts[:3] == ["Ann Lee", "Ann", "Street 1"] and "The Skerry Light" in texts
    header = docx.Document(str(out)).sections[0].header.paragraphs[0].text
    assert header.startswith("Lee / THE SKERRY LIGHT / ")
    result = runner.invoke(cli, [*args[:4], "epub", *args[5:], "--db", str(db_path)])
    assert result.exit_code == 2 and "--format docx" in result.output
