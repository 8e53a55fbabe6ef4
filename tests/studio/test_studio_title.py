"""The studio drafts the book's title with the plan, shows it in the Brief and the project
list, and keeps the writer's own title (scripted fake backend, real Gradio layout)."""

from app.studio import brief_plan
from app.studio.model_host import ModelHost
from app.studio.state import Studio
from app.studio.ui import screen
from harness.fake_backend import FakeBackend
from tests.test_title import _book_model


def test_draft_titles_the_book_once_and_the_writer_can_change_it(db_path):
    backend = FakeBackend(_book_model)
    studio = Studio(db_path, ModelHost.serving(backend))
    w = screen(studio)[1]
    project = studio.store.create_project("wreck", "Write a 100-word story about a wreck.", 100)
    shown = list(brief_plan.draft(studio, w, project.id, project.instruction, "", 100, False))[-1]
    assert shown[w.book_title] == "The Letters from the Wreck"
    assert shown[w.project_list]["data"][0][:2] == ["wreck", "The Letters from the Wreck"]
    brief_plan.save_title(studio, project.id, "  Salt  and Iron ")
    assert studio.store.project("wreck").title == "Salt and Iron"
    list(brief_plan.draft(studio, w, project.id, project.instruction, "", 100, False))
    assert studio.store.project("wreck").title == "Salt and Iron"  # not drafted over
    titles = [r for r in backend.requests if "title" in (r.json_schema or {}).get("properties", {})]
    assert len(titles) == 1
