"""The stale-write refusal through the `longwrite` command: a plan exported with its version is
refused once the project's plan moved on, and nothing is saved; a section's versions are listed
with kind and time; start over is undone by one command."""

import json

import pytest
from click.testing import CliRunner

from app.cli import LANGUAGE, cli
from engine.projects import service
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from harness.fake_backend import FakeBackend, prose
from tests.conftest import one_line_error, run_cli


@pytest.fixture
def written(db_path, monkeypatch):
    """A database with one project, 'Keeper', of three written sections (fake backend)."""
    monkeypatch.setitem(LANGUAGE, "chosen", "en")
    store = Store(db_path)
    plan = Plan(
        sections=[
            PlanSection(title=title, main_point=f"{title} happens.", words=40)
            for title in ("Dawn", "Storm", "Calm")
        ]
    )
    project = service.create_project(store, "Keeper", "Write a story.", 120, plan=plan)
    backend = FakeBackend(lambda request: prose(30, seed=len(backend.requests)))
    list(run_project(store, project, backend))
    store.close()
    return db_path


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _plans(db_path) -> list:
    store = Store(db_path)
    try:
        return store.db.execute("select version, plan from plans order by version").fetchall()
    finally:
        store.close()


def test_a_plan_file_is_saved_back_while_current_and_refused_once_the_plan_moved_on(
    written, tmp_path
):
    mine, theirs = tmp_path / "mine.json", tmp_path / "theirs.json"
    for path in (mine, theirs):
        result = _invoke("projects", "plan", "Keeper", "-o", str(path), "--db", str(written))
        assert result.exit_code == 0, result.output
        assert "Plan version 1 of 'Keeper' written to" in result.stderr
    data = json.loads(theirs.read_text())
    assert (data["plan_version"], len(data["sections"])) == (1, 3)
    data["sections"][1]["words"] = 80
    theirs.write_text(json.dumps(data))
    result = _invoke("projects", "set-plan", "Keeper", str(theirs), "--db", str(written))
    assert result.exit_code == 0, result.output
    assert "Saved as plan version 2 of 'Keeper'." in result.stderr

    # my edit was made on version 1: refused, one line, exit 2, the database untouched
    data = json.loads(mine.read_text())
    data["sections"][0]["title"] = "Sunrise"
    mine.write_text(json.dumps(data))
    before = _plans(written)
    result = run_cli("projects", "set-plan", "Keeper", str(mine), "--db", str(written), timeout=120)
    message = one_line_error(result)
    assert "changed since" in message and "version 1 there, 2 now" in message, message
    assert _plans(written) == before

    # exported again, the same edit goes through, and texts stay with their rows
    result = _invoke("projects", "plan", "Keeper", "--db", str(written))
    data = json.loads(result.stdout)
    assert data["plan_version"] == 2
    data["sections"][0]["title"] = "Sunrise"
    mine.write_text(json.dumps(data))
    result = _invoke("projects", "set-plan", "Keeper", str(mine), "--db", str(written))
    assert "Saved as plan version 3" in result.stderr
    store = Store(written)
    project = store.project("Keeper")
    assert [s.title for s in store.plan(project).sections] == ["Sunrise", "Storm", "Calm"]
    assert len(store.sections(project)) == 3


def test_an_unchanged_or_hand_written_plan_file_and_another_project_s_file(written, tmp_path):
    path = tmp_path / "plan.json"
    _invoke("projects", "plan", "Keeper", "-o", str(path), "--db", str(written))
    result = _invoke("projects", "set-plan", "Keeper", str(path), "--db", str(written))
    assert "unchanged (version 1); nothing was saved" in result.stderr
    store = Store(written)
    other = service.create_project(
        store,
        "Other",
        "Write.",
        100,
        plan=Plan(sections=[PlanSection(title="A", main_point="B.", words=100)]),
    )
    with pytest.raises(Exception, match="another project"):
        service.save_plan_file(store, other, path)
    # a plan written by hand has no version: it is saved as it is
    hand = tmp_path / "hand.json"
    hand.write_text(
        json.dumps({"sections": [{"title": "Only", "main_point": "All.", "words": 90}]})
    )
    version, saved = service.save_plan_file(store, other, hand)
    assert (version, saved) == (2, True)


def test_history_lists_each_version_with_its_kind_and_time(written):
    store = Store(written)
    project = store.project("Keeper")
    first = store.sections(project)[1]
    seen = store.versions(project)
    service.save_edit(store, project, first.section_id, "My own storm.", seen)
    service.restore_version(store, project, first.section_id, first.version_id)
    store.close()
    result = _invoke("projects", "history", "Keeper", "2", "--db", str(written))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert " · written · " in lines[0] and " · hand edit · " in lines[1]
    assert f" · restore of #{first.version_id} · " in lines[2] and lines[2].endswith("· current")
    assert all(" · 20" in line for line in lines)  # the time: 2026-… (UTC, to the minute)
    show = _invoke("projects", "show", "Keeper", "--db", str(written))
    assert "(restore, 20" in show.stdout
    unknown = _invoke("projects", "history", "Keeper", "9", "--db", str(written))
    assert unknown.exit_code == 2 and "from 1 to 3" in unknown.stderr


def test_start_over_and_its_undo_from_the_command_line(written):
    store = Store(written)
    before = [(s.section_id, s.version_id) for s in store.sections(store.project("Keeper"))]
    store.close()
    result = _invoke("projects", "start-over", "Keeper", "--db", str(written))
    assert "Set aside the text of 3 sections" in result.stderr
    store = Store(written)
    assert store.sections(store.project("Keeper")) == []
    store.close()
    result = _invoke("projects", "start-over", "Keeper", "--undo", "--db", str(written))
    assert "Brought back the text of 3 sections" in result.stderr
    store = Store(written)
    assert [(s.section_id, s.version_id) for s in store.sections(store.project("Keeper"))] == before
    result = _invoke("projects", "start-over", "Keeper", "--undo", "--db", str(written))
    assert result.exit_code == 2 and "no start over to undo" in result.stderr


def test_two_set_plans_of_one_exported_file_at_once_one_saves_one_is_refused(written, tmp_path):
    """Two processes save edits of the same exported version together: the first takes the
    write lock and saves version 2; the other then finds the plan moved on. Never a traceback,
    never two versions."""
    import subprocess
    import sys

    from tests.conftest import REPO

    base = json.loads(_invoke("projects", "plan", "Keeper", "--db", str(written)).stdout)
    paths = []
    for number in (1, 2):
        edited = json.loads(json.dumps(base))
        edited["sections"][0]["words"] = 40 + number
        path = tmp_path / f"edit{number}.json"
        path.write_text(json.dumps(edited))
        paths.append(path)
    commands = [
        [
            sys.executable,
            "-m",
            "app",
            "projects",
            "set-plan",
            "Keeper",
            str(p),
            "--db",
            str(written),
        ]
        for p in paths
    ]
    processes = [
        subprocess.Popen(c, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    for process in processes:
        process.stdout.close()
        process.stderr.close()
    assert sorted(code for code, _ in results) == [0, 2], results
    assert all("Traceback" not in err for _, err in results), results
    refused = next(err for code, err in results if code == 2)
    assert "version 1 there, 2 now" in refused
    assert [version for version, _ in _plans(written)] == [1, 2]
