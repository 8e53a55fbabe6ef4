"""Versions and stale writes: a write based on a version that is no longer current is refused,
never applied; two connections saving at once never collide; old databases open."""

import sqlite3
import threading

import pytest
import sqlite_utils

from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.store.migrations import MIGRATIONS


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
