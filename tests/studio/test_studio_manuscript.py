"""The Write tab's Manuscript export: the author is saved once for every project, and the file
is the standard manuscript DOCX (real Gradio layout, real SQLite file)."""

import docx
import pytest

from app.studio.model_host import ModelHost
from app.studio.panels import manuscript
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
from engine.schema import Plan, PlanSection
from harness.fake_backend import FakeBackend, prose


def test_manuscript_export_with_the_saved_author(db_path):
    studio = Studio(db_path, ModelHost.serving(FakeBackend()))
    s = screen(studio)[1]
    export_file = s.shared.export_file
    assert export_file is s.writing.export_file  # offered where the other exports are
    store = studio.store
    project = store.create_project("Tale", "Write a tale.", 300)
    plan = Plan(sections=[PlanSection(title="One", main_point="It begins.", words=300)])
    store.save_plan(project, plan)
    version = store.start_section(project, plan.ids[0], prose(300))
    store.save_section(version, prose(300), 0, done=True)
    with pytest.raises(UserError, match="--author"):
        manuscript.export(studio, export_file, project.id, "", "")
    author = ("Ann Lee", "Street 1\nann@example.org")
    manuscript.save_author(studio, *author)
    assert manuscript.author_fields(studio) == author
    shown = manuscript.export(studio, export_file, project.id, *author)
    made = docx.Document(shown[export_file]["value"])
    assert [p.text for p in made.paragraphs[:4]] == [
        "Ann Lee",
        "Street 1",
        "ann@example.org",
        "about 600 words",
    ]
    assert made.sections[0].header.paragraphs[0].text == "Lee / TALE / 1"
