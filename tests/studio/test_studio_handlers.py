"""The studio's handlers without a browser: a real Gradio layout, a real SQLite file and the
scripted fake backend, so each feature module's handlers are checked fast and deterministically.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.studio import brief_plan, projects_panel, section_tools, view, writing
from app.studio.model_host import ModelHost
from app.studio.plan_table import add_row
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection
from harness.fake_backend import FakeBackend, prose


@pytest.fixture
def studio(db_path):
    backend = FakeBackend(lambda request: prose(30, seed=len(backend.requests)))
    studio = Studio(db_path, ModelHost.serving(backend))
    studio.backend = backend
    return studio


@pytest.fixture
def w(studio):
    """The screen's components (a real layout), as the handlers see them."""
    return screen(studio)[1]


def _written(studio: Studio, titles=("One", "Two")):
    store = studio.store
    plan = Plan(sections=[PlanSection(title=t, main_point=f"{t}.", words=30) for t in titles])
    project = store.create_project("Tale", "Write a tale.", plan.total_words)
    store.save_plan(project, plan)
    list(run_project(store, project, studio.backend))
    return store.project("Tale"), plan


def test_the_project_view_fills_every_component_it_lists(studio, w):
    empty = view.project_view(studio, w, None)
    assert set(empty) == set(view.components(w))
    project, _ = _written(studio)
    opened = view.project_view(studio, w, project)
    assert set(opened) == set(view.components(w))
    assert opened[w.title] == "### Tale" and len(opened[w.plan]["data"]) == 2
    assert "One" in opened[w.document] and opened[w.export_file]["visible"] is False


def test_create_refuses_an_existing_name_and_open_shows_the_project(studio, w):
    _written(studio)
    with pytest.raises(UserError, match="exists already"):
        projects_panel.create(studio, w, "Tale", 500)
    shown = projects_panel.open_row(studio, w, 0)
    assert shown[w.rename_to] == "Tale"


def test_inserting_a_row_keeps_texts_with_their_rows_and_resume_fills_the_gap(studio, w):
    project, plan = _written(studio)
    rows = brief_plan.plan_view(studio, w, project, plan)[w.plan]["data"]
    edited = brief_plan.edit_rows(
        studio, w, add_row, project.id, rows, plan.ids, 1, project.target_words
    )
    ids = edited[w.plan_ids]
    assert ids[0] == plan.ids[0] and ids[2] == plan.ids[1]
    at_rest = writing.view_of(studio, w, studio.project(project.id))
    assert "1 section(s) without text: Resume writes them" in at_rest[w.progress]

    updates = list(writing.write(studio, w, True, project.id, "Write a tale.", "", 60, False))
    assert updates[-1][w.progress].startswith("Done")
    sections = studio.store.sections(studio.project(project.id))
    assert [s.section_id for s in sections] == ids


def test_rewrite_shows_a_diff_and_accept_makes_it_current(studio, w):
    project, plan = _written(studio)
    before = studio.store.sections(project)[1]
    updates = list(
        section_tools.rewrite(studio, w, project.id, plan.ids[1], "make it shorter", "", "", None)
    )
    final = updates[-1]
    assert "<ins>" in final[w.revise_diff] or "<del>" in final[w.revise_diff]
    assert studio.store.sections(project)[1].version_id == before.version_id
    accepted = section_tools.accept(studio, w, project.id, final[w.proposal])
    assert accepted[w.proposal] is None
    assert studio.store.sections(project)[1].version_id == final[w.proposal]["version_id"]
    with pytest.raises(UserError, match="no rewrite to accept"):
        section_tools.accept(studio, w, project.id, None)


def test_save_without_a_section_and_write_without_a_plan_are_user_errors(studio, w):
    project = studio.store.create_project("Empty", "Write a tale.", 100)
    with pytest.raises(UserError, match="Choose a section first"):
        section_tools.save_text(studio, w, project.id, None, "text")
    with pytest.raises(UserError, match="draft a plan"):
        list(writing.write(studio, w, False, project.id, "Write a tale.", "", 100, False))


def test_export_builds_the_file_only_when_asked(studio, w):
    project, _ = _written(studio)
    assert not any(studio.export_dir.rglob("*"))  # opening the project built nothing
    view.project_view(studio, w, project)
    assert not any(studio.export_dir.rglob("*"))
    shown = writing.export(studio, w, "docx", project.id)
    path = shown[w.export_file]["value"]
    assert path.endswith("Tale.docx")


def test_import_survives_being_resumed_on_other_threads(studio, w, tmp_path):
    """Gradio may resume a generator handler on another of its threads between two yields; a
    sqlite3 connection only works in the thread that made it."""
    source = tmp_path / "salt.md"
    source.write_text("# Salt\n\n## One\n\nThe caravan left.\n\n## Two\n\nSand came.\n")
    updates = projects_panel.import_file(studio, w, str(source), "")
    results: list = []
    # every step on a thread of its own, all alive to the end (a finished thread's id can be
    # reused, which would hide the fault)
    pools = [ThreadPoolExecutor(1) for _ in range(20)]
    for pool in pools:
        results.append(pool.submit(next, updates, None).result())
        if results[-1] is None:
            break
    for pool in pools:
        pool.shutdown()
    opened = [update for update in results if update and w.rename_to in update]
    assert opened and opened[-1][w.rename_to] == "Salt"
    assert [s.text for s in studio.store.sections(studio.store.project("Salt"))] == [
        "The caravan left.",
        "Sand came.",
    ]
