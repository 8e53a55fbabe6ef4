"""The SQLite store on a real file: migrations, projects, plan and section versions, autosave."""

import json
import multiprocessing
import sqlite3
import time

import pytest

from engine.errors import UserError
from engine.schema import Plan, PlanSection
from engine.store.database import Autosave, Store
from engine.store.migrations import MIGRATIONS

PLAN = Plan(sections=[PlanSection(title="One", main_point="First.", words=100)])


def test_migrations_apply_once_and_wal_is_on(db_path):
    Store(db_path).close()
    store = Store(db_path)  # reopening applies nothing twice
    names = [row["name"] for row in store.db["_migrations"].rows]
    assert names == [name for name, _ in MIGRATIONS]
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"


def _open_at_once(path, barrier) -> str:
    barrier.wait()
    try:
        Store(path).close()
    except UserError as error:
        return str(error)
    return "ok"


def test_processes_opening_a_new_database_together_all_succeed(tmp_path):
    """The studio and a CLI run may create the same database at the same moment."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(5):
        path = tmp_path / f"new-{attempt}.db"
        with context.Manager() as manager, context.Pool(3) as pool:
            barrier = manager.Barrier(3)
            results = pool.starmap(_open_at_once, [(path, barrier)] * 3)
        assert results == ["ok"] * 3
    names = [row["name"] for row in Store(path).db["_migrations"].rows]
    assert names == [name for name, _ in MIGRATIONS]


def test_projects_plans_and_section_versions(db_path):
    store = Store(db_path)
    project = store.create_project("Tale", "Write a tale.", 100)
    with pytest.raises(UserError, match="exists already"):
        store.create_project("Tale", "again", 100)
    assert store.save_plan(project, PLAN) == 1
    edited = Plan(sections=[PLAN.sections[0].model_copy(update={"words": 150})])
    assert store.save_plan(project, edited) == 2
    assert store.plan(project).sections[0].words == 150
    assert store.plan(project, version=1) == PLAN

    section_id = PLAN.sections[0].id
    first = store.start_section(project, section_id)
    store.save_section(first, "Draft one.", 3, done=True)
    second = store.start_section(project, section_id)
    store.save_section(second, "Draft two.", 3, done=True)
    assert [s.text for s in store.sections(project)] == ["Draft two."]
    history = store.section_history(project, section_id)
    assert [s.text for s in history] == ["Draft one.", "Draft two."]
    store.restore_section(project, section_id, first)
    assert store.sections(project)[0].text == "Draft one."
    summary = store.list_projects()[0]
    assert (summary.name, summary.words) == ("Tale", 2)
    assert store.unique_name("Tale") == "Tale (2)"
    with pytest.raises(UserError, match="No project named"):
        store.project("Missing")


def test_autosave_writes_at_most_every_interval(db_path):
    store = Store(db_path)
    project = store.create_project("Tale", "Write a tale.", 100)
    store.save_plan(project, PLAN)
    version = store.start_section(project, PLAN.sections[0].id)
    autosave = Autosave(store, version, interval=0.2)
    autosave.update("a", 1)  # too soon: not saved
    assert store.sections(project)[0].text == ""
    time.sleep(0.25)
    autosave.update("a b", 2)
    assert store.sections(project)[0].text == "a b"
    autosave.finish("a b c", 3)
    section = store.sections(project)[0]
    assert (section.text, section.status) == ("a b c", "done")


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="Cannot open the database"):
        Store(path)
    assert path.read_bytes() == b"this is not sqlite" * 100  # left untouched


def test_saved_text_survives_another_connection(db_path):
    store = Store(db_path)
    project = store.create_project("Tale", "Write a tale.", 100)
    version = store.start_section(project, PLAN.sections[0].id)
    store.save_section(version, "kept", 1, done=False)
    raw = sqlite3.connect(db_path).execute("select text from section_versions").fetchall()
    assert raw == [("kept",)]


def _row(title: str) -> PlanSection:
    return PlanSection(title=title, main_point=f"{title} happens.", words=100)


def test_text_stays_with_its_row_when_rows_are_inserted_moved_and_deleted(db_path):
    store = Store(db_path)
    project = store.create_project("Tale", "Write a tale.", 300)
    a, b, c = _row("A"), _row("B"), _row("C")
    store.save_plan(project, Plan(sections=[a, b, c]))
    for row in (a, b, c):
        version = store.start_section(project, row.id, f"Text of {row.title}.")
        store.save_section(version, f"Text of {row.title}.", 4, done=True)
    store.save_section(store.start_section(project, b.id), "B again.", 2, done=True)

    inserted = _row("New")
    store.save_plan(project, Plan(sections=[a, inserted, c, b]))  # insert after A, move B last
    sections = store.sections(project)
    assert [(s.idx, s.text) for s in sections] == [
        (0, "Text of A."),
        (2, "Text of C."),
        (3, "B again."),
    ]
    assert [s.text for s in store.section_history(project, b.id)] == ["Text of B.", "B again."]
    assert store.section_history(project, b.id)[0].idx == 3

    store.save_plan(project, Plan(sections=[a, inserted, b]))  # delete C: its text goes too
    assert [s.text for s in store.sections(project)] == ["Text of A.", "B again."]
    assert store.list_projects()[0].words == 5
    store.save_plan(project, store.plan(project, version=1))  # an old version brings C back
    assert [s.text for s in store.sections(project)] == ["Text of A.", "B again.", "Text of C."]


def test_migration_gives_positional_sections_stable_ids(db_path):
    """A database from before stable ids: text by position becomes text by row id."""
    import sqlite_utils

    from engine.store.migrations import m001_initial

    old = sqlite_utils.Database(db_path)
    m001_initial(old)
    old["_migrations"].insert({"name": "m001_initial", "applied_at": "2026-01-01"}, pk="name")
    old["projects"].insert(
        {
            "id": 1,
            "name": "Old",
            "instruction": "Write.",
            "target_words": 200,
            "settings": "{}",
            "model": "{}",
            "status": "done",
        }
    )
    plan_v1 = {"sections": [{"title": "One", "main_point": "x.", "words": 100}]}
    plan_v2 = {
        "sections": [
            {"title": "One", "main_point": "x.", "words": 100},
            {"title": "Two", "main_point": "y.", "words": 100},
        ]
    }
    for version, plan in ((1, plan_v1), (2, plan_v2)):
        old["plans"].insert({"project_id": 1, "version": version, "plan": json.dumps(plan)})
    for vid, idx, text in ((1, 0, "First draft."), (2, 0, "Second draft."), (3, 1, "Two.")):
        old["section_versions"].insert(
            {
                "id": vid,
                "project_id": 1,
                "idx": idx,
                "text": text,
                "status": "done",
                "output_tokens": 2,
            }
        )
    old["sections"].insert_all(
        [{"project_id": 1, "idx": 0, "version_id": 2}, {"project_id": 1, "idx": 1, "version_id": 3}]
    )
    old.close()

    store = Store(db_path)
    project = store.project("Old")
    plan = store.plan(project)
    assert [s.text for s in store.sections(project)] == ["Second draft.", "Two."]
    assert store.plan(project, version=1).sections[0].id == plan.sections[0].id
    history = store.section_history(project, plan.sections[0].id)
    assert [s.text for s in history] == ["First draft.", "Second draft."]
    assert len(set(plan.ids)) == 2
