"""The SQLite store on a real file: migrations, projects, plan and section versions, autosave."""

import multiprocessing
import sqlite3
import time

import pytest

from engine.errors import UserError
from engine.schema import Plan, PlanSection
from engine.store import MIGRATIONS, Autosave, Store

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

    first = store.start_section(project, 0)
    store.save_section(first, "Draft one.", 3, done=True)
    second = store.start_section(project, 0)
    store.save_section(second, "Draft two.", 3, done=True)
    assert [s.text for s in store.sections(project)] == ["Draft two."]
    assert [s.text for s in store.section_history(project, 0)] == ["Draft one.", "Draft two."]
    store.restore_section(project, 0, first)
    assert store.sections(project)[0].text == "Draft one."
    summary = store.list_projects()[0]
    assert (summary.name, summary.words) == ("Tale", 2)
    assert store.unique_name("Tale") == "Tale (2)"
    with pytest.raises(UserError, match="No project named"):
        store.project("Missing")


def test_autosave_writes_at_most_every_interval(db_path):
    store = Store(db_path)
    project = store.create_project("Tale", "Write a tale.", 100)
    version = store.start_section(project, 0)
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
    version = store.start_section(project, 0)
    store.save_section(version, "kept", 1, done=False)
    raw = sqlite3.connect(db_path).execute("select text from section_versions").fetchall()
    assert raw == [("kept",)]
