"""The `longwrite` command as a user runs it: plans, writing, resuming after kill -9, bad input."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from engine.errors import UserError
from engine.metrics import words_of
from engine.store.database import Store
from engine.writing.length_control import clean_section
from tests.conftest import REPO, one_line_error, run_cli

STORY = "a story about two sisters who restore an old clock tower"


@pytest.fixture(scope="module")
def saved_project(tmp_path_factory):
    """A database holding one finished project, to prove bad commands never touch it."""
    db = tmp_path_factory.mktemp("saved") / "projects.db"
    plan = tmp_path_factory.mktemp("plan") / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "sections": [
                    {"title": "Dust", "main_point": "The sisters climb the tower.", "words": 80},
                    {"title": "Gears", "main_point": "They get the clock going.", "words": 80},
                ]
            }
        )
    )
    result = run_cli("write", STORY, "--plan", str(plan), "--project", "tower", "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db


def _saved_text(db):
    store = Store(db)
    try:
        return [(s.idx, s.text, s.status) for s in store.sections(store.project("tower"))]
    finally:
        store.close()


@pytest.mark.parametrize(
    "args, hint",
    [
        (["write", STORY, "--words", "300", "--model", "/no/such/model.gguf"], "model"),
        (["write", STORY, "--words", "300", "--model", "CORRUPT"], "GGUF"),
        (
            [
                "write",
                STORY,
                "--words",
                "300",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model-name",
                "m",
            ],
            "server",
        ),
        (["write", "", "--words", "300"], "what to write"),
        (["write", "-", "--words", "300"], "instruction"),  # 1 MB on stdin
        (["write", STORY, "--words", "0"], "positive"),
        (["write", STORY, "--words", "-40"], "positive"),
        (["write", STORY, "--words", "50000000"], "split"),
        (["write", STORY], "--words"),
        (["write", STORY, "--plan", "BADPLAN"], "not a valid plan"),
        (["write", STORY, "--plan", "NOTJSON"], "plan"),
        (["write", "--resume", "no-such-project"], "no-such-project"),
        (["export", "doc", "no-such-project", "-o", "out.md"], "no-such-project"),
    ],
)
def test_bad_input_gets_one_line_and_saved_work_survives(saved_project, tmp_path, args, hint):
    before = _saved_text(saved_project)
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 64)
    bad_plan = tmp_path / "bad.json"
    bad_plan.write_text(json.dumps({"sections": [{"title": "A", "main_point": "B", "words": -3}]}))
    not_json = tmp_path / "plan.txt"
    not_json.write_text("this is not a plan")
    paths = {"CORRUPT": corrupt, "BADPLAN": bad_plan, "NOTJSON": not_json}
    args = [str(paths.get(a, a)) for a in args]
    stdin = "x" * 1_000_000 if "-" in args else ""
    result = run_cli(*args, "--db", str(saved_project), input=stdin, timeout=120)
    message = one_line_error(result)
    assert hint.lower() in message.lower()
    assert _saved_text(saved_project) == before


@pytest.mark.slow  # runs the embedded model
def test_plan_file_round_trips_through_write(tmp_path):
    plan_path, db = tmp_path / "plan.json", tmp_path / "projects.db"
    drafted = run_cli(
        "plan", "A 500-word fable about a fox and a crow.", "-o", str(plan_path), "--seed", "4"
    )
    assert drafted.returncode == 0, drafted.stderr
    plan = json.loads(plan_path.read_text())
    assert sum(row["words"] for row in plan["sections"]) == 500
    plan["sections"][0]["main_point"] = "The crow finds a piece of cheese on a windowsill."
    plan["sections"][0]["words"] = 200
    plan_path.write_text(json.dumps(plan))
    stats_path, out = tmp_path / "stats.json", tmp_path / "fable.md"
    written = run_cli(
        "write",
        "A fable about a fox and a crow.",
        "--plan",
        str(plan_path),
        "--db",
        str(db),
        "--project",
        "fable",
        "-o",
        str(out),
        "--stats-json",
        str(stats_path),
        "--seed",
        "4",
    )
    assert written.returncode == 0, written.stderr
    stats = json.loads(stats_path.read_text())
    for key in (
        "words",
        "target_words",
        "length_score",
        "sections",
        "output_tokens",
        "prompt_tokens_sent",
        "prompt_tokens_evaluated",
        "wall_s",
        "decode_tokens_per_s",
    ):
        assert key in stats
    assert stats["sections"] == len(plan["sections"])
    assert stats["target_words"] == sum(row["words"] for row in plan["sections"])
    assert len(words_of(out.read_text())) > 0.7 * stats["target_words"]
    listing = run_cli("projects", "--db", str(db))
    assert "fable" in listing.stdout and "done" in listing.stdout
    for fmt in ("html", "docx", "epub"):
        exported = run_cli(
            "export",
            "doc",
            "fable",
            "--format",
            fmt,
            "-o",
            str(tmp_path / f"fable.{fmt}"),
            "--db",
            str(db),
        )
        assert exported.returncode == 0, exported.stderr
        assert (tmp_path / f"fable.{fmt}").stat().st_size > 500


@pytest.mark.slow  # runs the embedded model
def test_kill_9_then_resume_loses_nothing(tmp_path):
    db = tmp_path / "projects.db"
    plan = tmp_path / "plan.json"
    rows = [
        ("Arrival", "A stranger arrives in a mountain village in winter."),
        ("Secret", "The villagers hide a secret about the frozen lake."),
        ("Thaw", "Spring comes and the secret is revealed."),
    ]
    plan.write_text(
        json.dumps({"sections": [{"title": t, "main_point": p, "words": 220} for t, p in rows]})
    )
    log = tmp_path / "writer.log"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "write",
            "A story about a stranger in a mountain village.",
            "--plan",
            str(plan),
            "--project",
            "village",
            "--db",
            str(db),
            "--seed",
            "5",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and writer.poll() is None:
            if db.exists():
                sections = _sections(db, "village")
                if (
                    len(sections) >= 2
                    and sections[0][2] == "done"
                    and len(words_of(sections[1][1])) >= 15
                ):
                    break
            time.sleep(0.2)
        assert writer.poll() is None, f"the run ended before it could be killed: {log.read_text()}"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    before = _sections(db, "village")
    assert before[0][2] == "done" and before[1][2] == "writing"
    resumed = run_cli("write", "--resume", "village", "--db", str(db))
    assert resumed.returncode == 0, resumed.stderr
    after = _sections(db, "village")
    assert [s[2] for s in after] == ["done"] * 3
    assert after[0][1] == before[0][1], "a finished section changed"
    kept = words_of(clean_section(before[1][1]))[:-1]  # the last saved word may be cut short
    assert words_of(after[1][1])[: len(kept)] == kept, "the autosaved text was not continued"


def _sections(db, name):
    store = Store(db)
    try:
        return [(s.idx, s.text, s.status) for s in store.sections(store.project(name))]
    except (UserError, sqlite3.OperationalError):  # not created yet, or busy for a moment
        return []
    finally:
        store.close()


def test_insert_a_row_then_resume_writes_only_that_row(saved_project, tmp_path):
    """`plan NAME --insert-after K` on a written project, then `write --resume` on the model."""
    db = tmp_path / "copy.db"
    source = sqlite3.connect(saved_project)
    source.backup(sqlite3.connect(db))
    source.close()
    store = Store(db)
    project = store.project("tower")
    before = {s.section_id: s.version_id for s in store.sections(project)}
    store.close()

    args = ["--title", "Rain", "--main-point", "A storm soaks the tower stairs.", "--words", "60"]
    inserted = run_cli("plan", "tower", "--insert-after", "1", *args, "--db", str(db))
    assert inserted.returncode == 0, inserted.stderr
    assert "Rain (60 words, to write)" in inserted.stdout
    assert "Dust (80 words, written)" in inserted.stdout
    refused = run_cli("plan", "tower", "--insert-after", "9", *args, "--db", str(db))
    assert "insert after 0 to that number" in one_line_error(refused)

    resumed = run_cli("write", "--resume", "tower", "--db", str(db))
    assert resumed.returncode == 0, resumed.stderr
    store = Store(db)
    project = store.project("tower")
    plan = store.plan(project)
    sections = store.sections(project)
    store.close()
    assert [s.title for s in plan.sections] == ["Dust", "Rain", "Gears"]
    assert [s.status for s in sections] == ["done"] * 3 and sections[1].text.strip()
    assert {s.section_id: s.version_id for s in sections if s.idx != 1} == before


BOOK_PLAN = {
    "chapters": [
        {
            "title": "Arrival",
            "summary": "Mara comes to the island in winter.",
            "words": 100,
            "scenes": [
                {"title": "Ferry", "main_point": "Mara crosses to the island.", "words": 50},
                {"title": "Inn", "main_point": "Mara takes a room at the inn.", "words": 50},
            ],
        },
        {
            "title": "Keeper",
            "summary": "Mara meets Tobias, the lighthouse keeper.",
            "words": 160,
            "scenes": [
                {"title": "Lamp", "main_point": "Tobias shows Mara the lamp room.", "words": 160}
            ],
        },
        {"title": "Thaw", "summary": "Spring comes and Tobias tells his secret.", "words": 80},
    ]
}


@pytest.mark.slow  # runs the embedded model
def test_a_book_killed_in_a_recap_a_scene_and_a_chapter_plan_resumes_losing_nothing(tmp_path):
    """Three kills -9 of one two-level project, each resumed: in chapter 1's recap, in the
    middle of chapter 2's scene, while chapter 3's scenes are being drafted."""
    db, plan = tmp_path / "projects.db", tmp_path / "plan.json"
    plan.write_text(json.dumps(BOOK_PLAN))
    command = ["write", "A story about a cartographer on a lighthouse island."]
    command += ["--plan", str(plan), "--project", "island", "--db", str(db), "--seed", "5"]

    log = _kill_when(
        tmp_path / "run1.log", command, lambda log: "Chapter 1/3: writing its recap" in log
    )
    first = _book(db)
    assert [s[2] for s in first.sections] == ["done", "done"], log
    assert first.recaps == {}, "the kill came after the recap was saved"

    resume = ["write", "--resume", "island", "--db", str(db)]
    log = _kill_when(
        tmp_path / "run2.log",
        resume,
        lambda _: len(s := _book(db, busy=[]).sections) == 3 and len(words_of(s[2][1])) >= 15,
    )
    second = _book(db)
    assert "scene 1/2" not in log, "a finished scene was written again"
    assert "Chapter 1 recap:" in log and "Chapter 1/3: writing its recap" in log
    assert second.sections[:2] == first.sections
    assert second.sections[2][2] == "writing" and list(second.recaps) == [second.chapters[0]]

    log = _kill_when(
        tmp_path / "run3.log", resume, lambda log: "“Thaw”: drafting its scenes" in log
    )
    third = _book(db)
    assert "Chapter 1 recap:" not in log, "a saved recap was written again"
    assert third.sections[:2] == first.sections
    # The autosave's finished lines are continued as they were; the line the kill cut short may
    # still grow into an echo of the plan that the scene's final cleaning drops.
    head, _, _ = second.sections[2][1].rpartition("\n")
    kept = words_of(clean_section(head)) if head else words_of(second.sections[2][1])[:-1]
    assert words_of(third.sections[2][1])[: len(kept)] == kept, "the autosave was not continued"
    assert set(third.recaps) == set(third.chapters[:2])
    assert third.recaps[third.chapters[0]] == second.recaps[third.chapters[0]]
    assert third.scenes_of_last == 0, "the kill came after chapter 3's scenes were saved"

    finished = run_cli("--lang", "en", *resume)
    assert finished.returncode == 0, finished.stderr
    assert "Chapter 3/3 “Thaw”: drafting its scenes" in finished.stderr
    last = _book(db)
    assert last.sections[:3] == third.sections[:3], "a saved scene changed"
    assert [s[2] for s in last.sections] == ["done"] * len(last.sections)
    assert last.scenes_of_last >= 1 and len(last.sections) == 3 + last.scenes_of_last
    assert set(last.recaps) == set(last.chapters)
    assert {c: last.recaps[c] for c in third.recaps} == third.recaps, "a saved recap changed"


def _kill_when(log_path, command, ready) -> str:
    """Start `longwrite --lang en COMMAND`, SIGKILL it once ready(stderr so far) holds, and
    return what it wrote to stderr."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "app", "--lang", "en", *command],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and writer.poll() is None:
            if ready(log_path.read_text(encoding="utf-8")):
                break
            time.sleep(0.05)
        assert writer.poll() is None, (
            f"the run ended before it could be killed: {log_path.read_text()}"
        )
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    return log_path.read_text(encoding="utf-8")


@dataclass
class _Saved:
    sections: list  # (position, text, status) of the current sections
    recaps: dict  # chapter id -> recap text
    chapters: list  # chapter ids
    scenes_of_last: int


def _book(db, busy=None) -> _Saved:
    """What the store holds of the project; `busy` (a value to return instead) when a writer
    holds the database for a moment."""
    try:
        store = Store(db)
    except sqlite3.OperationalError:
        return _Saved(busy, {}, [], 0)
    try:
        project = store.project("island")
        plan = store.plan(project)
        return _Saved(
            [(s.idx, s.text, s.status) for s in store.sections(project)],
            {c: r.text for c, r in store.recaps(project).items()},
            [c.id for c in plan.chapters],
            len(plan.scenes(plan.chapters[-1].id)),
        )
    except sqlite3.OperationalError:
        return _Saved(busy, {}, [], 0)
    finally:
        store.close()
