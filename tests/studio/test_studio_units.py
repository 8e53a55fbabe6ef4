"""Fast checks of the studio's pieces that need no browser: plan table, store project ops,
section rewrites on the embedded model, and the CLI's refusals."""

import json

import pytest

from app.studio.plan_table import add_row, delete_row, move_row, rows_plan, toggle_lock
from engine.errors import UserError
from engine.projects.revise import extend_section, regenerate_section
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Store
from engine.writing.events import SectionFinished
from tests.conftest import run_cli

ROWS = [["Start", "The fox wakes.", 40, False], ["End", "The fox sleeps.", 40, True]]


def test_plan_rows_round_trip_and_row_operations_keep_ids_with_rows():
    plan = rows_plan(ROWS, ["a1", "b2"])
    assert [s.title for s in plan.sections] == ["Start", "End"] and plan.sections[1].locked
    assert plan.ids == ["a1", "b2"]
    rows, ids = add_row(ROWS, ["a1", "b2"], 1)
    assert [r[0] for r in rows] == ["Start", "New section", "End"]
    assert ids[0] == "a1" and ids[2] == "b2" and ids[1] not in ("a1", "b2")
    rows, ids = delete_row(rows, ids, 2)
    assert ([r[0] for r in rows], ids) == (["Start", "End"], ["a1", "b2"])
    rows, ids = move_row(ROWS, ["a1", "b2"], 2, -1)
    assert ([r[0] for r in rows], ids) == (["End", "Start"], ["b2", "a1"])
    assert toggle_lock(ROWS, ["a1", "b2"], 1)[0][0][3] is True
    # a row the table itself added (no id yet) gets a fresh one; known rows keep theirs
    grown = rows_plan([*ROWS, ["Coda", "The fox dreams.", 10, False]], ["a1", "b2"])
    assert grown.ids[:2] == ["a1", "b2"] and len(set(grown.ids)) == 3
    with pytest.raises(UserError, match="Row 1: the word count 'many' is not a number"):
        rows_plan([["Start", "x", "many", False]])
    with pytest.raises(UserError, match="Row 2: the title must not be empty"):
        rows_plan([ROWS[0], ["", "x", 10, False]])
    with pytest.raises(UserError, match="between 1 and 2"):
        delete_row(ROWS, ["a1", "b2"], 5)


def test_store_rename_duplicate_delete(db_path):
    store = Store(db_path)
    project = store.create_project("Tale", "Write a tale.", 80)
    plan = rows_plan(ROWS)
    store.save_plan(project, plan)
    version = store.start_section(project, plan.ids[0])
    store.save_section(version, "Once upon a time.", 5, done=True)
    other = store.create_project("Other", "x", 10)
    with pytest.raises(UserError, match="exists already"):
        store.rename_project(project, "Other")
    project = store.rename_project(project, "Fable")
    copy = store.duplicate_project(project, "Fable copy")
    assert store.plan(copy) == store.plan(project)
    assert [s.text for s in store.sections(copy)] == ["Once upon a time."]
    store.delete_project(project)
    assert {p.name for p in store.list_projects()} == {"Fable copy", "Other"}
    assert (
        store.db.execute(
            "select count(*) from section_versions where project_id = ?", [project.id]
        ).fetchone()[0]
        == 0
    )
    assert store.project_by_id(other.id).name == "Other"


def test_regenerate_and_extend_keep_history_and_stop_safely(backend, db_path):
    store = Store(db_path)
    settings = WriteSettings(sampling=SamplingSettings(seed=4))
    project = store.create_project(
        "Fox", "Write a 60-word story about a fox.", 60, settings=settings
    )
    plan = Plan(sections=[PlanSection(title="Fox", main_point="A fox in the snow.", words=30)])
    store.save_plan(project, plan)
    section_id = plan.ids[0]
    first = store.start_section(project, section_id)
    store.save_section(first, "The fox woke in the snow.", 7, done=True)

    events = list(regenerate_section(store, project, backend, section_id))
    assert isinstance(events[-1], SectionFinished)
    current = store.sections(project)[0]
    assert current.version_id != first and current.status == "done" and current.text.strip()

    # a rewrite stopped part-way stays in the history; the previous version stays current
    extension = extend_section(store, project, backend, section_id, 40)
    next(extension)
    next(extension)
    extension.close()
    assert store.sections(project)[0].version_id == current.version_id
    history = store.section_history(project, section_id)
    assert len(history) == 3 and history[-1].status == "writing"
    assert history[-1].text.startswith(current.text)


def test_studio_refuses_a_public_address_without_auth(tmp_path):
    result = run_cli("studio", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert "--auth-file FILE" in result.stderr and "Traceback" not in result.stderr
    fake = tmp_path / "fake.gguf"
    fake.write_text("not weights")
    result = run_cli("studio", "--model", str(fake), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "is not a GGUF model file" in result.stderr


def test_score_action_shows_the_judges_six_marks(monkeypatch):
    """The studio's Score line with a scripted judge: the marks are the judge's, exactly."""
    from app.studio.panels import length_score as score
    from engine.export import Document
    from harness.fake_backend import FakeBackend
    from training.eval.judge import Judge

    document = Document("Fox", [("", "The fox waited by the river until the crow came down.")])
    monkeypatch.setattr(score, "QUALITY_JUDGE", None)
    assert "not connected" in score.quality_line("A fable about a fox.", document)
    marks = {
        "relevance": 5,
        "accuracy": 4,
        "coherence": 4,
        "clarity": 3,
        "breadth_and_depth": 2,
        "reading_experience": 4,
    }
    score.connect_judge(Judge(FakeBackend([json.dumps(marks)]), "scripted judge"))
    line = score.quality_line("A fable about a fox.", document)
    # S_q maps the six 1–5 marks to 0–100: mean 22/6 → (22/6 - 1) / 4 × 100 = 66.7
    assert line.startswith("Quality score S_q (scripted judge): **66.7** / 100")
    assert "relevance 5/5" in line and "breadth and depth 2/5" in line
    assert "reading experience 4/5" in line
