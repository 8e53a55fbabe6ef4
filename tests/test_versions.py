"""Versions and stale writes: a write based on a version that is no longer current is refused,
never applied; two connections saving at once never collide; old databases open."""

import sqlite3
import threading
import time

import pytest
import sqlite_utils

from engine.errors import UserError
from engine.export import to_markdown
from engine.planning.plan import rescale
from engine.projects import service
from engine.projects.revise import (
    RevisionReady,
    accept_rewrite,
    proposal_current,
    rewrite_section,
)
from engine.projects.run import project_document, run_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.store.migrations import MIGRATIONS
from engine.writing.events import RunFinished
from harness.fake_backend import FakeBackend, prose


def _plan(*words: int) -> Plan:
    return Plan(
        sections=[
            PlanSection(title=f"Part {i}", main_point=f"Point {i}.", words=w)
            for i, w in enumerate(words, start=1)
        ]
    )


@pytest.fixture
def store(db_path):
    opened = Store(db_path)
    yield opened
    opened.close()


def test_versions_count_brief_plan_and_section_writes(store):
    project = store.create_project("Tides", "Write about tides.", 300)
    first = store.versions(project)
    assert (first.project_id, first.brief, first.plan, first.sections) == (project.id, 0, None, {})
    store.update_project(project, status="writing")  # not a brief field
    assert store.versions(project).brief == 0
    store.update_project(project, bible="The keeper.")
    assert store.versions(project).brief == 1
    plan = _plan(100, 200)
    assert store.save_plan(project, plan) == 1
    version_id = store.start_section(project, plan.ids[0], "Waves.")
    now = store.versions(project)
    assert (now.brief, now.plan, now.sections) == (1, 1, {plan.ids[0]: version_id})


def test_reading_versions_never_waits_for_a_writer(db_path):
    """A page asks for versions while a run holds the write lock: the answer comes at once."""
    a, b = Store(db_path), Store(db_path)
    project = a.create_project("Keeper", "Write.", 300)
    a.db.conn.execute("pragma busy_timeout = 5000")
    with b.transaction():
        b.update_project(project, bible="Written by the other connection.")
        started = time.monotonic()
        seen = a.versions(project)
        assert time.monotonic() - started < 1.0
        assert seen.brief == 0  # the other write is not committed yet
    assert a.versions(project).brief == 1
    a.close()
    b.close()


def test_two_connections_saving_a_plan_at_once_get_two_versions(db_path):
    """The reported `UNIQUE constraint failed: plans.project_id, plans.version`: connection A has
    taken the next number when B saves. B must wait for A's write lock, then take the next one."""
    a = Store(db_path)
    project = a.create_project("Keeper", "Write.", 300)
    a.save_plan(project, _plan(100, 200))
    others, errors = [], []

    def save_from_b():
        b = Store(db_path)  # a connection of its own, in its own thread
        try:
            b.save_plan(project, _plan(150, 150))
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(error)
        finally:
            b.close()

    def between_number_and_insert(statement: str) -> None:
        head = statement.lower().split("(")[0]
        if not others and head.startswith("insert") and "plans" in head:
            others.append(threading.Thread(target=save_from_b))
            others[0].start()
            others[0].join(timeout=1.5)  # B saves now (no lock held) or waits for A's commit

    a.db.conn.set_trace_callback(between_number_and_insert)
    a.save_plan(project, _plan(120, 180))
    a.db.conn.set_trace_callback(None)
    others[0].join(timeout=15)
    assert not errors, errors
    assert [v for v, _ in a.plan_versions(project)] == [1, 2, 3]
    a.close()


def test_a_database_from_before_versions_opens_with_its_texts_as_written(db_path):
    old = sqlite_utils.Database(db_path)
    old.conn.execute("BEGIN")
    old["_migrations"].create({"name": str, "applied_at": str}, pk="name")
    for name, function in MIGRATIONS[:3]:
        function(old)
        old.conn.execute("insert into _migrations values (?, '2026-01-01')", [name])
    old.conn.commit()
    old.execute(
        "insert into projects (id, name, instruction, bible, target_words, settings, model, "
        "status, created_at, updated_at) values (1, 'Old', 'Write.', '', 100, '{}', '{}', "
        "'done', '2026-01-01', '2026-01-01')"
    )
    plan = _plan(100)
    old.execute(
        "insert into plans (project_id, version, plan, created_at) values (1, 1, ?, '')",
        [plan.model_dump_json()],
    )
    old.execute(
        "insert into section_versions (id, project_id, section_id, text, status, output_tokens, "
        "created_at, updated_at) values (7, 1, ?, 'Old text.', 'done', 3, '2026-01-01', '')",
        [plan.ids[0]],
    )
    old.execute("insert into sections values (1, ?, 7)", [plan.ids[0]])
    old.conn.commit()
    old.close()

    store = Store(db_path)
    project = store.project("Old")
    assert store.versions(project).sections == {plan.ids[0]: 7}
    (section,) = store.sections(project)
    assert (section.text, section.kind) == ("Old text.", "written")
    assert section.created_at == "2026-01-01"
    with pytest.raises(sqlite3.IntegrityError):  # the unique index still guards the numbers
        store.db.execute("insert into plans (project_id, version, plan) values (1, 1, '{}')")
    store.close()


# -- the service refuses writes based on old versions, and applies current ones ---------------
INSTRUCTION = "Write a story about a lighthouse keeper."


def _written(store: Store, *words: int):
    """A project with a plan and every section written, on the fake backend."""
    plan = _plan(*words)
    project = store.create_project("Keeper", INSTRUCTION, plan.total_words, bible="Ada: keeper.")
    store.save_plan(project, plan)
    backend = FakeBackend(lambda request: prose(30, seed=len(backend.requests)))
    events = list(run_project(store, project, backend))
    assert isinstance(events[-1], RunFinished)
    return project, plan


def _state(store: Store, project) -> tuple:
    """Everything a stale write could change: brief, plans, current texts, history, recaps."""
    fresh = store.project_by_id(project.id)
    brief = (fresh.name, fresh.instruction, fresh.bible, fresh.target_words, fresh.settings)
    plans = store.db.execute(
        "select version, plan from plans where project_id = ? order by version", [project.id]
    ).fetchall()
    texts = [(s.section_id, s.version_id, s.text) for s in store.sections(fresh)]
    history = store.db.execute(
        "select id, text from section_versions where project_id = ? order by id", [project.id]
    ).fetchall()
    runs = [(run.id, run.status) for run in store.runs(fresh)]
    return brief, plans, texts, history, store.recaps(fresh), runs


def test_a_brief_saved_from_an_old_page_is_refused_and_changes_nothing(store):
    project, _ = _written(store, 60, 60)
    tab_a = store.versions(project)
    tab_b = store.versions(project)
    service.save_brief(store, project, tab_b, bible="Ada: keeper. Ben: her brother.")
    before = _state(store, project)
    with pytest.raises(UserError, match="changed in another tab") as refused:
        service.save_brief(store, project, tab_a, bible="", target_words=600)
    assert refused.value.key == "error.stale_brief"
    assert _state(store, project) == before
    # reloaded, the same write goes through
    saved = service.save_brief(store, project, store.versions(project), target_words=600)
    assert saved.target_words == 600 and saved.bible == "Ada: keeper. Ben: her brother."


def test_a_basis_taken_from_another_project_is_refused(store):
    keeper, _ = _written(store, 60)
    tides = store.create_project("Tides", "Write about tides.", 300)
    before = _state(store, keeper)
    with pytest.raises(UserError) as refused:
        service.save_brief(store, keeper, store.versions(tides), instruction="Tides' brief.")
    assert refused.value.key == "error.stale_project"
    assert _state(store, keeper) == before


def test_brief_writes_that_change_nothing_keep_the_version(store):
    project, _ = _written(store, 60)
    based_on = store.versions(project)
    service.save_brief(store, project, based_on, instruction=INSTRUCTION, bible="Ada: keeper.")
    assert store.versions(project).brief == based_on.brief
    service.save_brief(store, project, based_on, name="Keeper's light")
    assert store.versions(project).brief == based_on.brief + 1
    assert store.project_by_id(project.id).name == "Keeper's light"


def test_a_plan_edited_on_an_old_version_is_refused(store):
    project, plan = _written(store, 60, 60)
    tab_a = store.versions(project)
    longer = plan.model_copy(
        update={"sections": [s.model_copy(update={"words": 90}) for s in plan.sections]}
    )
    assert service.save_plan(store, project, longer, store.versions(project)) == 2
    before = _state(store, project)
    with pytest.raises(UserError, match="version 2") as refused:
        service.save_plan(store, project, plan, tab_a)
    assert refused.value.key == "error.stale_plan"
    assert _state(store, project) == before


def test_saving_the_same_plan_saves_no_version(store):
    project, plan = _written(store, 60, 60)
    assert service.save_plan(store, project, plan, store.versions(project)) == 1
    assert [v for v, _ in store.plan_versions(project)] == [1]


def test_two_tabs_saving_one_plan_version_at_once_one_wins_one_is_refused(db_path):
    """Two connections save a plan based on the same version at the same moment: the second
    waits for the first's transaction, then finds the plan moved on."""
    a = Store(db_path)
    project, plan = _written(a, 60, 60)
    based_on = a.versions(project)
    results = []

    def save_from_b():
        b = Store(db_path)
        try:
            results.append(service.save_plan(b, project, _plan(50, 70), based_on))
        except UserError as error:
            results.append(error.key)
        finally:
            b.close()

    other = []

    def during_a(statement: str) -> None:
        head = statement.lower().split("(")[0]
        if not other and head.startswith("insert") and "plans" in head:
            other.append(threading.Thread(target=save_from_b))
            other[0].start()
            other[0].join(timeout=1.0)

    a.db.conn.set_trace_callback(during_a)
    assert service.save_plan(a, project, _plan(70, 50), based_on) == 2
    a.db.conn.set_trace_callback(None)
    other[0].join(timeout=15)
    assert results == ["error.stale_plan"]
    assert [v for v, _ in a.plan_versions(project)] == [1, 2]
    assert [s.words for s in a.plan(project).sections] == [70, 50]
    a.close()


def test_rescale_of_a_plan_that_adds_up_changes_and_saves_nothing(store):
    plan = _plan(335, 209, 422)
    project = store.create_project("Sum", INSTRUCTION, plan.total_words)
    store.save_plan(project, plan)
    assert service.rescale_plan(store, project, 966, store.versions(project)) == 1
    assert store.plan(project) == plan
    assert [v for v, _ in store.plan_versions(project)] == [1]
    assert rescale(plan, 966) == plan
    assert service.rescale_plan(store, project, 1932, store.versions(project)) == 2
    assert store.plan(project).total_words == 1932


def test_a_hand_edit_on_an_old_text_is_refused_and_a_current_one_is_kept_as_an_edit(store):
    project, plan = _written(store, 60, 60)
    tab_a = store.versions(project)
    tab_b = store.versions(project)
    edit_id = service.save_edit(store, project, plan.ids[0], "Tab B's own words.", tab_b)
    before = _state(store, project)
    with pytest.raises(UserError, match="Section 1 .*changed in another tab") as refused:
        service.save_edit(store, project, plan.ids[0], "Tab A's words.", tab_a)
    assert refused.value.key == "error.stale_section"
    assert _state(store, project) == before
    # another section's edit is not held up by it
    service.save_edit(store, project, plan.ids[1], "Tab A's second section.", tab_a)
    current = {s.section_id: s for s in store.sections(project)}
    assert current[plan.ids[0]].version_id == edit_id
    assert (current[plan.ids[0]].kind, current[plan.ids[0]].status) == ("edit", "done")
    assert current[plan.ids[1]].text == "Tab A's second section."


def test_restore_is_a_new_version_of_kind_restore_and_refused_when_stale(store):
    project, plan = _written(store, 60)
    section_id = plan.ids[0]
    first = store.sections(project)[0]
    service.save_edit(store, project, section_id, "An edit.", store.versions(project))
    seen = store.versions(project)
    restored = service.restore_version(store, project, section_id, first.version_id, seen)
    (current,) = store.sections(project)
    assert (current.version_id, current.text) == (restored, first.text)
    assert (current.kind, current.source_version_id) == ("restore", first.version_id)
    kinds = [v.kind for v in store.section_history(project, section_id)]
    assert kinds == ["written", "edit", "restore"]
    before = _state(store, project)
    with pytest.raises(UserError, match="changed in another tab"):
        service.restore_version(store, project, section_id, first.version_id, seen)
    assert _state(store, project) == before


def test_a_rewrite_proposal_is_bound_to_the_version_it_was_made_from(store):
    """Compare, Restore, a hand edit, Save: an old proposal must not come back over the edit."""
    project, plan = _written(store, 60, 60)
    section_id = plan.ids[1]
    made_from = store.sections(project)[1].version_id
    backend = FakeBackend(["A darker second section, full of storms."])
    ready = list(rewrite_section(store, project, backend, section_id, "make it darker"))[-1]
    assert isinstance(ready, RevisionReady) and ready.source_version_id == made_from
    proposal = store.section_version(project, ready.version_id)
    assert (proposal.kind, proposal.source_version_id) == ("rewrite", made_from)
    assert proposal_current(store, project, ready.version_id)
    service.save_edit(store, project, section_id, "My own words.", store.versions(project))
    assert not proposal_current(store, project, ready.version_id)
    before = _state(store, project)
    with pytest.raises(UserError) as refused:
        accept_rewrite(store, project, section_id, ready.version_id)
    assert refused.value.key == "error.stale_proposal"
    assert _state(store, project) == before

    # a fresh proposal of the current text is accepted
    backend = FakeBackend(["A brighter second section."])
    ready = list(rewrite_section(store, project, backend, section_id, "brighter"))[-1]
    accept_rewrite(store, project, section_id, ready.version_id, store.versions(project))
    assert store.sections(project)[1].text == "A brighter second section."
    assert not proposal_current(store, project, ready.version_id)  # accepted: nothing pending


def test_start_over_keeps_every_text_and_one_undo_brings_them_all_back(store):
    project, plan = _written(store, 60, 60, 60)
    texts = [(s.section_id, s.version_id, s.text) for s in store.sections(project)]
    service.start_over(store, project, store.versions(project))
    assert store.sections(project) == []
    assert service.undo_start_over(store, project, store.versions(project)) == 3
    assert [(s.section_id, s.version_id, s.text) for s in store.sections(project)] == texts
    service.start_over(store, project)
    service.start_over(store, project)  # nothing left to set aside: the undo skips it
    assert service.undo_start_over(store, project) == 3
    with pytest.raises(UserError) as nothing:
        service.undo_start_over(store, project)
    assert nothing.value.key == "error.nothing_to_undo"


def test_start_over_from_an_old_page_is_refused(store):
    project, plan = _written(store, 60, 60)
    seen = store.versions(project)
    service.save_edit(store, project, plan.ids[1], "Written in another tab.", seen)
    before = _state(store, project)
    with pytest.raises(UserError) as refused:
        service.start_over(store, project, seen)
    assert refused.value.key == "error.stale_sections"
    assert _state(store, project) == before


def test_undo_brings_back_a_written_book_s_texts_and_recaps_after_a_new_run(store):
    """Start over, write again, then undo: the first texts are current again and the second
    run's texts stay in the history."""
    project, plan = _written(store, 60, 60)
    first = {s.section_id: s.version_id for s in store.sections(project)}
    service.start_over(store, project)
    backend = FakeBackend(lambda request: prose(30, seed=50 + len(backend.requests)))
    list(run_project(store, project, backend))
    second = {s.section_id: s.version_id for s in store.sections(project)}
    service.undo_start_over(store, project, store.versions(project))
    assert {s.section_id: s.version_id for s in store.sections(project)} == first
    for section_id, version_id in second.items():
        history = {v.version_id for v in store.section_history(project, section_id)}
        assert version_id in history


def test_the_scene_titles_setting_has_a_setter(store):
    project, _ = _written(store, 60, 60)
    seen = store.versions(project)
    assert "## Part 2" in to_markdown(project_document(store, project))
    saved = service.set_section_headings(store, project, False, seen)
    assert saved.settings.section_headings is False
    assert "## Part" not in to_markdown(project_document(store, saved))
    with pytest.raises(UserError, match="changed in another tab"):
        service.set_section_headings(store, project, True, seen)


def test_a_queued_draft_lands_on_no_project_that_moved_on(store):
    """The reported case: Draft plan pressed on 'Tides', run when 'Keeper' was open, replaced
    Keeper's brief and plan. Whatever project a queued draft is handed, it is refused unless
    it is the one pressed on, still at the brief and plan the press saw."""
    keeper, _ = _written(store, 60, 60)
    tides = store.create_project("Tides", "Write about tides.", 600)
    pressed_on_tides = store.versions(tides)
    drafted = _plan(300, 300)
    before = _state(store, keeper)
    with pytest.raises(UserError) as refused:
        service.save_drafted_plan(
            store, keeper, drafted, pressed_on_tides, instruction="Tides' brief", bible=""
        )
    assert refused.value.key == "error.stale_project"
    assert _state(store, keeper) == before
    # on Tides, after the writer changed its target in another tab: refused as well
    service.save_brief(store, tides, store.versions(tides), target_words=900)
    with pytest.raises(UserError) as refused:
        service.save_drafted_plan(store, tides, drafted, pressed_on_tides)
    assert refused.value.key == "error.stale_brief"
    assert store.plan(tides) is None
    version = service.save_drafted_plan(
        store, tides, drafted, store.versions(tides), instruction="Tides, at dawn."
    )
    assert version == 1 and store.project_by_id(tides.id).instruction == "Tides, at dawn."


def test_a_queued_write_or_rewrite_is_refused_when_the_project_changed_since_the_press(store):
    project, plan = _written(store, 60, 60, 60)
    service.continue_from(store, project, 2)
    pressed = store.versions(project)
    service.save_edit(store, project, plan.ids[0], "Edited in another tab.", pressed)
    before = _state(store, project)
    backend = FakeBackend(lambda request: prose(30, seed=7))
    with pytest.raises(UserError) as refused:
        list(run_project(store, project, backend, based_on=pressed))
    assert refused.value.key == "error.stale_sections"
    with pytest.raises(UserError) as refused:
        list(rewrite_section(store, project, backend, plan.ids[0], "darker", based_on=pressed))
    assert refused.value.key == "error.stale_section"
    assert _state(store, project) == before and backend.requests == []
    events = list(run_project(store, project, backend, based_on=store.versions(project)))
    assert isinstance(events[-1], RunFinished)


def test_start_over_of_a_book_sets_model_recaps_aside_and_the_undo_brings_them_back(store):
    plan = Plan.model_validate(
        {
            "chapters": [
                {
                    "title": "Arrival",
                    "summary": "Mara comes.",
                    "words": 80,
                    "scenes": [
                        {"title": "Ferry", "main_point": "She crosses.", "words": 40},
                        {"title": "Inn", "main_point": "She takes a room.", "words": 40},
                    ],
                },
                {
                    "title": "Secret",
                    "summary": "Tobias talks.",
                    "words": 40,
                    "scenes": [
                        {"title": "Keeper", "main_point": "He limps.", "words": 40},
                    ],
                },
            ]
        }
    )
    project = store.create_project("Island", INSTRUCTION, plan.total_words)
    store.save_plan(project, plan)
    for number, section_id in enumerate(plan.ids):
        version_id = store.start_section(project, section_id, f"Scene {number}.")
        store.save_section(version_id, f"Scene {number}.", 3, done=True)
    first, second = plan.chapters
    store.save_recap(project, first.id, "The model's recap of Arrival.", edited=False)
    store.save_recap(project, second.id, "The writer's own recap.", edited=True)
    recaps = store.recaps(project)

    service.start_over(store, project, store.versions(project))
    assert store.sections(project) == []
    assert list(store.recaps(project)) == [second.id]  # the writer's edit is kept as it is
    assert service.undo_start_over(store, project, store.versions(project)) == 3
    assert store.recaps(project) == recaps
    assert [s.text for s in store.sections(project)] == ["Scene 0.", "Scene 1.", "Scene 2."]
