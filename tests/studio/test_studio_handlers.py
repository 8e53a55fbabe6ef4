"""The studio's handlers without a browser: a real Gradio layout, a real SQLite file and the
scripted fake backend, so each feature module's handlers are checked fast and deterministically.
"""

import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import gradio as gr
import pytest

from app.studio import service
from app.studio.model_host import ModelHost
from app.studio.panels import brief, projects, section_tools, writing
from app.studio.panels import plan as plan_panel
from app.studio.plan_table import add_row
from app.studio.state import Studio
from app.studio.target import Target
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
def ui(studio):
    """The screen's components (a real layout), as the handlers see them."""
    return screen(studio)[1]


def _written(studio: Studio, titles=("One", "Two")):
    store = studio.store
    plan = Plan(sections=[PlanSection(title=t, main_point=f"{t}.", words=30) for t in titles])
    project = store.create_project("Tale", "Write a tale.", plan.total_words)
    store.save_plan(project, plan)
    list(run_project(store, project, studio.backend))
    return store.project("Tale"), plan


def test_the_project_view_fills_every_component_it_lists(studio, ui):
    empty = ui.shared.view.of(studio, None)
    assert set(empty) == set(ui.shared.view.components())
    project, _ = _written(studio)
    opened = ui.shared.view.of(studio, project)
    assert set(opened) == set(ui.shared.view.components())
    assert opened[ui.shared.open.title] == "### Tale" and len(opened[ui.plan.plan]["data"]) == 2
    assert (
        "One" in opened[ui.writing.run.document]
        and opened[ui.writing.export_file]["visible"] is False
    )


def test_create_refuses_an_existing_name_and_open_shows_the_project(studio, ui):
    _written(studio)
    with pytest.raises(UserError, match="exists already"):
        projects.create(studio, ui.projects, ui.shared.view, "Tale")
    shown = projects.open_row(studio, ui.shared.view, 0)
    assert shown[ui.projects.rename_to] == "Tale"


def test_a_click_opens_the_project_its_row_shows_and_a_new_one_starts_fresh(studio, ui):
    """Another tab's new project moves the rows: the click opens the name it showed. A new
    project takes nothing from the one open before (Total words, row, scenes, instruction)."""
    _written(studio)
    studio.store.create_project("Blocker", "Write about a blocker.", 2500)
    studio.store.create_project("Sample", "Write a sample.", 700)
    shown = projects.open_row(studio, ui.shared.view, 0, "Blocker")
    assert shown[ui.shared.brief.total] == 2500
    created = projects.create(studio, ui.projects, ui.shared.view, "Fresh")
    assert created[ui.shared.brief.total] == projects.NEW_PROJECT_WORDS
    assert created[ui.plan.row] == 1 and created[ui.plan.scenes_up_front] is False
    assert created[ui.sections.revise_instruction] == ""


def test_inserting_a_row_keeps_texts_with_their_rows_and_resume_fills_the_gap(studio, ui):
    project, plan = _written(studio)
    rows = plan_panel.plan_view(studio, ui.plan, project, plan)[ui.plan.plan]["data"]
    edited = plan_panel.edit_rows(
        studio, ui.plan, add_row, project.id, rows, plan.ids, 1, project.target_words
    )
    ids = edited[ui.plan.plan_ids]
    assert ids[0] == plan.ids[0] and ids[2] == plan.ids[1]
    at_rest = writing.view_of(studio, ui.writing, studio.project(project.id))
    assert "1 section(s) without text: Resume writes them" in at_rest[ui.writing.run.progress]

    updates = list(
        service.write(studio, ui.shared.run, True, project.id, "Write a tale.", "", 60, False)
    )
    assert updates[-1][ui.writing.run.progress].startswith("Done")
    sections = studio.store.sections(studio.project(project.id))
    assert [s.section_id for s in sections] == ids


def test_rewrite_shows_a_diff_and_accept_makes_it_current(studio, ui):
    project, plan = _written(studio)
    before = studio.store.sections(project)[1]
    updates = list(
        section_tools.rewrite(
            studio,
            ui.sections,
            ui.shared.run,
            project.id,
            plan.ids[1],
            "make it shorter",
            "",
            "",
            None,
        )
    )
    final = updates[-1]
    assert "<ins>" in final[ui.sections.revise_diff] or "<del>" in final[ui.sections.revise_diff]
    assert studio.store.sections(project)[1].version_id == before.version_id
    accepted = section_tools.accept(
        studio, ui.sections, ui.shared.run, project.id, final[ui.sections.proposal]
    )
    assert accepted[ui.sections.proposal] is None
    assert studio.store.sections(project)[1].version_id == final[ui.sections.proposal]["version_id"]
    with pytest.raises(UserError, match="no rewrite to accept"):
        section_tools.accept(studio, ui.sections, ui.shared.run, project.id, None)


def test_save_without_a_section_and_write_without_a_plan_are_user_errors(studio, ui):
    project = studio.store.create_project("Empty", "Write a tale.", 100)
    with pytest.raises(UserError, match="Choose a section first"):
        section_tools.save_text(studio, ui.sections, ui.shared.run, project.id, None, "text")
    with pytest.raises(UserError, match="draft a plan"):
        list(
            service.write(studio, ui.shared.run, False, project.id, "Write a tale.", "", 100, False)
        )


def test_export_builds_the_file_only_when_asked(studio, ui):
    project, _ = _written(studio)
    assert not any(studio.export_dir.rglob("*"))  # opening the project built nothing
    ui.shared.view.of(studio, project)
    assert not any(studio.export_dir.rglob("*"))
    shown = writing.export(studio, ui.writing, "docx", project.id)
    path = shown[ui.writing.export_file]["value"]
    assert path.endswith("Tale.docx")


def test_import_survives_being_resumed_on_other_threads(studio, ui, tmp_path):
    """Gradio may resume a generator handler on another of its threads between two yields; a
    sqlite3 connection only works in the thread that made it."""
    source = tmp_path / "salt.md"
    source.write_text("# Salt\n\n## One\n\nThe caravan left.\n\n## Two\n\nSand came.\n")
    updates = projects.import_file(studio, ui.projects, ui.shared.view, str(source), "")
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
    opened = [update for update in results if update and ui.projects.rename_to in update]
    assert opened and opened[-1][ui.projects.rename_to] == "Salt"
    assert [s.text for s in studio.store.sections(studio.store.project("Salt"))] == [
        "The caravan left.",
        "Sand came.",
    ]


def test_a_press_carries_its_target_and_its_updates_follow_the_page(studio, ui):
    """A queued action applies to the project it was pressed on; while its page shows another
    project, the page gets no updates from it, and one line saying where the result went."""
    project, _ = _written(studio, ("One",))
    studio.store.drop_sections_from(project, 0)
    other = studio.store.create_project("Other", "Write another tale.", 60)
    opened = ui.shared.view.of(studio, project)[ui.shared.open.target]
    pressed, line = service.press(studio, "write", opened, "page-a")
    target = Target.parse(pressed)
    assert (target.project_id, target.name, target.page) == (project.id, "Tale", "page-a")
    # the versions the page showed, which the engine checks before the job writes
    assert target.based_on() == studio.store.versions(project)
    assert line == "Writing Tale: number 1 in the queue."

    run = ui.shared.run
    write = functools.partial(service.write, studio, run, False)
    studio.show("page-a", other.id)  # the page opened Other while the job waited
    studio.stop("page-b")  # another page's Stop
    queued = service.queued(studio, write, "write", run.progress)
    updates = list(queued(pressed, "Write a tale.", "", 60, False))
    assert all(list(update) == [run.progress] for update in updates[:-1])
    assert all(update[run.progress] == gr.skip() for update in updates[:-1])
    assert updates[-1] == {
        run.progress: "The job for Tale ended while another project was open: open Tale to see it."
    }
    assert studio.waiting == []  # the job left the queue when it started
    assert studio.store.project("Other").updated_at == other.updated_at


def test_stop_ends_the_job_of_its_own_page_only(studio, ui):
    project, _ = _written(studio, ("One",))
    studio.store.drop_sections_from(project, 0)
    run = ui.shared.run
    studio.stop("page-a")
    pressed = Target(project.id, "Tale", "page-a").to_json()
    stopped = list(service.write(studio, run, False, pressed, "Write a tale.", "", 30, False))
    assert stopped[-1][run.progress].startswith("Stopped")
    studio.press("page-a")  # a fresh press forgets the page's stop
    studio.stop("page-b")
    done = list(service.write(studio, run, False, pressed, "Write a tale.", "", 30, False))
    assert done[-1][run.progress].startswith("Done")


def test_every_event_handler_takes_the_inputs_it_is_wired_with(studio):
    """Each wired function accepts as many values as its event sends (Gradio's own arguments,
    a gr.Request or gr.SelectData, aside): a handler whose signature changed without its
    wiring fails here, not in a browser."""
    demo, _ = screen(studio)
    special = (gr.Request, gr.SelectData, gr.EventData)
    checked = 0
    for block_fn in demo.fns.values():
        if block_fn.fn is None:  # a step that runs only in the page (js)
            continue
        signature = inspect.signature(block_fn.fn)  # follows user_errors' __wrapped__
        parameters = [
            p
            for p in signature.parameters.values()
            if p.annotation not in special and not isinstance(p.default, gr.Progress)
        ]
        signature = signature.replace(parameters=parameters)
        signature.bind(*[None] * len(block_fn.inputs))  # TypeError on a mismatch
        checked += 1
    assert checked > 50


def test_stop_reaches_another_pages_job_only_once_that_page_is_gone(studio):
    class Running:
        stopped = False

        def stop(self):
            self.stopped = True

    job = Running()
    studio.jobs[7], studio.job_pages[7] = job, "page-a"
    studio.press("page-a")
    studio.stop("page-b", 7)  # page B shows the project page A writes
    assert not job.stopped
    studio.leave("page-a")  # page A was closed or reloaded
    assert studio.waiting == []  # its waiting press has no place any more
    studio.stop("page-b", 7)
    assert job.stopped


def _page(studio: Studio, ui, project, page: str):
    """`page` shows the project (as the page's target field does), and its request."""
    service.record_shown(studio, ui.shared.view.of(studio, project)[ui.shared.open.target], page)
    return SimpleNamespace(session_hash=page)


def test_a_write_based_on_what_another_tab_replaced_is_refused_and_changes_nothing(studio, ui):
    """Two pages show Tale; page B saves first: page A's brief field, plan edit, hand edit,
    restore and start over are each refused with the keyed message, and nothing changes. Each
    page's own writes move its basis on, so its next write is not refused."""
    project, plan = _written(studio)
    first = plan.ids[0]
    a, b = _page(studio, ui, project, "page-a"), _page(studio, ui, project, "page-b")
    brief.save_field(studio, "total", project.id, 75, b)
    brief.save_field(studio, "total", project.id, 80, b)  # B's own second write goes through
    with pytest.raises(UserError, match="changed in another tab"):
        brief.save_field(studio, "total", project.id, 90, a)
    assert studio.project(project.id).target_words == 80

    rows = plan_panel.plan_view(studio, ui.plan, project, plan)[ui.plan.plan]["data"]
    rows[0][2] = 40
    plan_panel.save_rows(studio, ui.plan, project.id, rows, plan.ids, None, b)
    rows[0][2] = 45
    with pytest.raises(UserError, match="changed in another tab"):
        plan_panel.save_rows(studio, ui.plan, project.id, rows, plan.ids, None, a)
    assert studio.store.plan(project).sections[0].words == 40

    run = ui.shared.run
    section_tools.save_text(studio, ui.sections, run, project.id, first, "B's own words.", b)
    before = {s.section_id: s.version_id for s in studio.store.sections(project)}
    for refused in (
        lambda: section_tools.save_text(studio, ui.sections, run, project.id, first, "A.", a),
        lambda: section_tools.restore(studio, ui.sections, run, project.id, first, 1, a),
        lambda: writing.start_over(studio, ui.writing, project.id, a),
    ):
        with pytest.raises(UserError, match="changed in another tab"):
            refused()
    assert {s.section_id: s.version_id for s in studio.store.sections(project)} == before

    # page A shows Tale again: it sees B's work, and its writes are based on it
    a = _page(studio, ui, studio.project(project.id), "page-a")
    section_tools.save_text(studio, ui.sections, run, project.id, first, "A's words.", a)
    assert studio.store.sections(project)[0].text == "A's words."


def test_a_compared_version_is_put_away_once_its_section_changed(studio, ui):
    """Compare, then a hand edit: Accept no longer brings the old version back over it."""
    project, plan = _written(studio)
    first, run = plan.ids[0], ui.shared.run
    page = _page(studio, ui, project, "page-a")
    old = studio.store.sections(project)[0]
    section_tools.save_text(studio, ui.sections, run, project.id, first, "Newer.", page)
    compared = section_tools.compare(studio, ui.sections, project.id, first, old.version_id)
    proposal = compared[ui.sections.proposal]
    # the diff reads as Accept would change it: the current text goes, the old one comes
    assert "<del>Newer.</del>" in compared[ui.sections.revise_diff]
    saved = section_tools.save_text(studio, ui.sections, run, project.id, first, "Mine.", page)
    assert saved[ui.sections.proposal] is None  # the edit put the comparison away
    section_tools.accept(studio, ui.sections, run, project.id, proposal, page)
    assert studio.store.sections(project)[0].text == "Mine."  # nothing came back over it


def test_rescale_of_a_plan_that_adds_up_saves_nothing(studio, ui):
    project, plan = _written(studio)
    rows = plan_panel.plan_view(studio, ui.plan, project, plan)[ui.plan.plan]["data"]
    versions = studio.store.plan_versions(project)
    plan_panel.rescale_rows(studio, ui.plan, project.id, rows, plan.ids, plan.total_words)
    assert studio.store.plan_versions(project) == versions


def test_start_over_is_undone_by_one_press(studio, ui):
    project, _ = _written(studio)
    texts = [s.text for s in studio.store.sections(project)]
    page = _page(studio, ui, project, "page-a")
    cleared = writing.start_over(studio, ui.writing, project.id, page)
    assert studio.store.sections(project) == []
    assert cleared[ui.writing.undo_start_over]["visible"] is True
    writing.undo_start_over(studio, ui.writing, project.id, page)
    assert [s.text for s in studio.store.sections(project)] == texts


def test_import_offers_a_free_name_and_scene_titles_switch_off(studio, ui, tmp_path):
    source = tmp_path / "salt.md"
    source.write_text("# Salt\n\n## One\n\nThe caravan left.\n\n## Two\n\nSand came.\n")
    assert projects.import_name_of(studio, str(source)) == "Salt"
    studio.store.create_project("Salt", "Write about salt.", 300)
    assert projects.import_name_of(studio, str(source)) == "Salt (2)"

    project, _ = _written(studio)
    page = _page(studio, ui, project, "page-a")
    shown = writing.set_headings(studio, ui.writing, project.id, False, page)
    assert studio.project(project.id).settings.section_headings is False
    assert "<h2" not in shown[ui.writing.run.document]
    assert (
        writing.view_of(studio, ui.writing, studio.project(project.id))[ui.writing.headings]
        is False
    )


def test_speed_and_time_left_wait_until_they_mean_something():
    from app.studio import render

    line = render.progress_line(1, 3, 5, 600, None, None)
    assert "– tok/s" in line and line.endswith("ETA –")


def test_choosing_another_section_keeps_an_unsaved_hand_edit(studio, ui):
    project, plan = _written(studio)
    first, second = plan.ids
    page = _page(studio, ui, project, "page-a")
    w = ui.sections
    shown = section_tools.show_section(studio, w, project.id, first, None, None, page)
    loaded = shown[w.shown_section]
    section_tools.show_section(studio, w, project.id, second, "My own words.", loaded, page)
    assert studio.store.sections(project)[0].text == "My own words."
    assert studio.store.sections(project)[0].kind == "edit"
    # a box another tab made stale is not saved: the menu goes back, the typed text stays
    b = _page(studio, ui, studio.project(project.id), "page-b")
    section_tools.save_text(studio, w, ui.shared.run, project.id, second, "B's text.", b)
    loaded = [second, studio.store.sections(project)[1].version_id]
    back = section_tools.show_section(studio, w, project.id, first, "A types.", loaded, page)
    assert back == {w.section: second}
    assert studio.store.sections(project)[1].text == "B's text."
