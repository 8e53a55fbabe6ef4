"""The studio drafts the book's title with the plan, shows it in the Brief and the project
list, and keeps the writer's own title (scripted fake backend, real Gradio layout)."""

import json

from app.studio import service
from app.studio.model_host import ModelHost
from app.studio.panels import brief, plan
from app.studio.state import Studio
from app.studio.ui import screen
from harness.fake_backend import FakeBackend
from tests.test_title import _book_model


def test_draft_titles_the_book_once_and_the_writer_can_change_it(db_path):
    backend = FakeBackend(_book_model)
    studio = Studio(db_path, ModelHost.serving(backend))
    s = screen(studio)[1]
    project = studio.store.create_project("wreck", "Write a 100-word story about a wreck.", 100)
    list(plan.draft(studio, s.plan, project.id, project.instruction, "", 100, False))
    shown = service.title_view(studio, s.shared, project.id)  # the step after a draft
    assert shown[s.shared.brief.book_title] == "The Letters from the Wreck"
    assert shown[s.shared.project_list]["data"][0][:2] == ["wreck", "The Letters from the Wreck"]
    assert s.brief.view_of(studio, studio.project(project.id))[s.brief.inputs.book_title] == (
        "The Letters from the Wreck"
    )
    listed = brief.save_title(studio, project.id, "  Salt  and Iron ")
    assert studio.store.project("wreck").title == "Salt and Iron"
    assert listed["data"][0][:2] == ["wreck", "Salt and Iron"]
    list(plan.draft(studio, s.plan, project.id, project.instruction, "", 100, False))
    assert studio.store.project("wreck").title == "Salt and Iron"  # not drafted over
    titles = [r for r in backend.requests if "title" in (r.json_schema or {}).get("properties", {})]
    assert len(titles) == 1


def _chapters_model(request) -> str:
    if "chapters" in (request.json_schema or {}).get("properties", {}):
        rows = [{"title": f"Part {n}", "summary": "It goes on.", "words": 10_000} for n in (1, 2)]
        return json.dumps({"chapters": rows})
    return _book_model(request)


def test_a_book_draft_titles_it_too(db_path):
    backend = FakeBackend(_chapters_model)
    studio = Studio(db_path, ModelHost.serving(backend))
    s = screen(studio)[1]
    project = studio.store.create_project("saga", "Write a 20,000-word saga about a wreck.", 20_000)
    list(plan.draft(studio, s.plan, project.id, project.instruction, "", 20_000, False))
    assert studio.store.project("saga").title == "The Letters from the Wreck"
