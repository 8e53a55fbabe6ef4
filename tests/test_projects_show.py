"""`longwrite projects show NAME [--json]`: plan rows with section ids, words, current version
and history, and the runs, through the real command line; the bare listing is unchanged."""

import json

import pytest

from engine.metrics import count_words
from engine.projects.revise import regenerate_section
from engine.projects.run import run_project
from engine.projects.service import insert_row
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.writing.events import RunFinished
from harness.fake_backend import FakeBackend, prose
from tests.conftest import run_cli


def _row(title: str) -> PlanSection:
    return PlanSection(title=title, main_point=f"What happens in {title}.", words=40)


@pytest.fixture
def keeper(db_path):
    """A project written in one run, one section regenerated, then a row inserted unwritten."""
    store = Store(db_path)
    plan = Plan(sections=[_row("Dawn"), _row("Storm")])
    project = store.create_project("Keeper", "A story about a lighthouse keeper.", 80)
    store.save_plan(project, plan)
    backend = FakeBackend(lambda request: prose(40, seed=len(backend.requests)))
    events = list(run_project(store, project, backend))
    assert isinstance(events[-1], RunFinished)
    list(regenerate_section(store, project, FakeBackend([prose(40, seed=7)]), plan.ids[1]))
    store.save_plan(project, insert_row(plan, 1, _row("Calm")))
    yield store, store.project("Keeper"), events[-1].stats
    store.close()


def test_json_lists_rows_versions_and_runs(keeper, db_path):
    store, project, stats = keeper
    result = run_cli("projects", "show", "Keeper", "--json", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    plan = store.plan(project)
    current = {s.section_id: s for s in store.sections(project)}
    assert shown["name"] == "Keeper" and shown["plan_version"] == 2
    assert [row["section_id"] for row in shown["sections"]] == plan.ids
    assert [row["title"] for row in shown["sections"]] == ["Dawn", "Calm", "Storm"]
    dawn, calm, storm = shown["sections"]
    words = {i: count_words(s.text) for i, s in current.items()}
    assert (dawn["status"], dawn["words"], dawn["versions"]) == ("done", words[plan.ids[0]], 1)
    assert dawn["version_id"] == current[plan.ids[0]].version_id
    assert (calm["status"], calm["words"], calm["version_id"], calm["versions"]) == (
        "unwritten",
        0,
        None,
        0,
    )
    assert storm["words"] == words[plan.ids[2]]
    assert storm["versions"] == 2  # written, then regenerated
    assert storm["version_id"] == current[plan.ids[2]].version_id
    assert shown["words"] == sum(words.values()) and shown["target_words"] == 80
    [run] = shown["runs"]
    assert run["status"] == "done" and run["finished_at"]
    assert run["words"] == stats.words and run["length_score"] == stats.length_score


def test_text_shows_ids_and_runs_and_the_listing_is_unchanged(keeper, db_path):
    store, project, _ = keeper
    result = run_cli("projects", "show", "Keeper", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    plan = store.plan(project)
    lines = result.stdout.splitlines()
    words = sum(count_words(s.text) for s in store.sections(project))
    assert lines[0].startswith(f"Keeper: {words:,}/80 words, done")
    assert f"[{plan.ids[1]}] Calm (40 planned; unwritten)" in result.stdout
    assert f"[{plan.ids[2]}] Storm" in result.stdout and "2 in its history" in result.stdout
    assert "length score" in lines[-1] and lines[-2] == "Runs:"
    listing = run_cli("projects", "--db", str(db_path))
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout == f"Keeper\t{words:,}/80 words\tdone\t{project.updated_at}\n"


def test_an_unknown_project_gets_one_line(db_path):
    result = run_cli("projects", "show", "nobody", "--json", "--db", str(db_path))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "Error: No project named 'nobody'; `longwrite projects` lists them."
    )
