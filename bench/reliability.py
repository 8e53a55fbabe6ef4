"""Reliability of the `longwrite` command under crashes, races, hostile input and a damaged disk.

Every check drives the real command (subprocesses, or click's runner in-process for the fuzzing)
on the embedded model and a real SQLite file, and prints JSON:

- kills: a writer is killed with SIGKILL at a random moment, then `write --resume` finishes the
  project; every section that was finished before the kill must come back byte-identical;
- races: two `write --resume` of one project start together; one must be refused every time,
  and no section may get a second version;
- fuzz: hypothesis feeds random text (control characters, invalid UTF-8, bidi overrides, long
  CJK names) into every text field of the command line: the instruction (argument and stdin),
  the project name, `--resume`, `export doc` and `projects`; no input may give a traceback;
- damaged: one b-tree page of the database is overwritten; every command must refuse with one
  line naming the automatic backup, and `longwrite restore` must bring the text back.

    python -m bench.reliability [--kills 20] [--races 20] [--fuzz 100] [--seed 15]
"""

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTRUCTION = "A short story about a lighthouse keeper and a lost whale."
ROWS = [
    ("Storm", "The keeper sees a whale stranded in the bay after a storm."),
    ("Night", "She keeps it wet through the night with buckets of sea water."),
    ("Tide", "The morning tide lifts the whale and it swims away."),
]
WAIT_S = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--races", type=int, default=20)
    parser.add_argument("--fuzz", type=int, default=100, help="hypothesis examples")
    parser.add_argument("--words", type=int, default=40, help="words per section")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="longwrite-reliability-") as folder:
        folder = Path(folder)
        plan = write_plan(folder / "plan.json", args.words)
        results = {
            "kills": kills(folder / "kills", plan, args.kills, rng),
            "races": races(folder / "races", plan, args.races),
            "fuzz": fuzz(folder / "fuzz", args.fuzz, args.seed),
            "damaged": damaged(folder / "damaged", plan),
        }
    print(json.dumps(results, indent=2, ensure_ascii=False))


def write_plan(path: Path, words: int) -> Path:
    rows = [{"title": t, "main_point": p, "words": words} for t, p in ROWS]
    path.write_text(json.dumps({"sections": rows}))
    return path


def longwrite(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(*args: str) -> subprocess.CompletedProcess:
    process = longwrite(*args)
    _, stderr = process.communicate(timeout=WAIT_S)
    return subprocess.CompletedProcess(process.args, process.returncode, "", stderr)


def sections(db: Path, name: str) -> dict[int, tuple[str, str]]:
    """The current sections of a project by plan row: {index: (status, text)}. Read-only SQL,
    so the bench never takes part in the locking and backups it measures."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        (plan,) = conn.execute(
            "select plan from plans join projects p on p.id = plans.project_id "
            "where p.name = ? order by version desc limit 1",
            [name],
        ).fetchone()
        rows = conn.execute(
            "select s.section_id, v.status, v.text from sections s "
            "join section_versions v on v.id = s.version_id "
            "join projects p on p.id = s.project_id where p.name = ?",
            [name],
        ).fetchall()
    conn.close()
    ids = [row["id"] for row in json.loads(plan)["sections"]]
    return {ids.index(sid): (status, text) for sid, status, text in rows if sid in ids}


def project_exists(db: Path, name: str) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            found = conn.execute("select 1 from projects where name = ?", [name]).fetchone()
        conn.close()
        return found is not None
    except sqlite3.OperationalError:  # the database is not created yet
        return False


def kills(folder: Path, plan: Path, count: int, rng: random.Random) -> dict:
    """SIGKILL a writer at a random moment of its run, resume, compare finished sections."""
    folder.mkdir()
    db = folder / "projects.db"
    if count == 0:
        return {"kills": 0}
    started = time.monotonic()
    calibration = finish(
        "write", INSTRUCTION, "--plan", str(plan), "--project", "calibration", "--db", str(db)
    )
    assert calibration.returncode == 0, calibration.stderr
    run_s = time.monotonic() - started  # kills land anywhere in a run this long
    rows = len(json.loads(plan.read_text())["sections"])
    identical = resumed = recorded_right = partial_kept = finished_before_kill = before_run = 0
    finished_at_kill = []
    for n in range(count):
        name = f"kill {n}"
        writer = longwrite(
            "write", INSTRUCTION, "--plan", str(plan), "--project", name, "--db", str(db)
        )
        deadline = time.monotonic() + WAIT_S
        while not project_exists(db, name):
            if writer.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"writer {n} ended before its project existed")
            time.sleep(0.05)
        time.sleep(rng.uniform(0, run_s))
        ended_by_itself = writer.poll() is not None
        finished_before_kill += ended_by_itself
        writer.kill()  # SIGKILL; a writer that already ended is left alone
        writer.communicate()
        before = sections(db, name)
        done = {i: text for i, (status, text) in before.items() if status == "done"}
        partial = {i: text for i, (status, text) in before.items() if status != "done"}
        finished_at_kill.append(len(done))
        resumed += finish("write", "--resume", name, "--db", str(db)).returncode == 0
        after = sections(db, name)
        identical += all(after.get(i, ("", None))[1] == text for i, text in done.items())
        partial_kept += all(after[i][1].startswith(text.strip()) for i, text in partial.items())
        statuses = _run_statuses(db, name)
        if len(statuses) == 1:  # killed between creating the project and starting its run
            before_run += 1
        else:  # a run is "done" also when the kill landed after it ended, as the writer exited
            finished = statuses[0] == "done" and len(done) == rows
            recorded_right += finished or (statuses[0] == "interrupted" and not ended_by_itself)
    return {
        "kills": count,
        "seconds_of_an_unbroken_run": round(run_s, 1),
        "killed_before_the_run_began": before_run,
        "writer_had_finished_before_the_kill": finished_before_kill,
        "sections_finished_at_kill": dict(sorted(_histogram(finished_at_kill).items())),
        "resumed_to_the_end": resumed,
        "finished_sections_byte_identical": identical,
        "partial_sections_continued_from_saved_text": partial_kept,
        "runs_recorded_as_they_ended": recorded_right,
    }


def _run_statuses(db: Path, name: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select r.status from runs r join projects p on p.id = r.project_id "
            "where p.name = ? order by r.id",
            [name],
        ).fetchall()
    conn.close()
    return [status for (status,) in rows]


def races(folder: Path, plan: Path, count: int) -> dict:
    """Start two `write --resume` of one project together: exactly one may write."""
    folder.mkdir()
    db = folder / "projects.db"
    refused = both_wrote = duplicated = 0
    for n in range(count):
        name = f"race {n}"
        _create_planned_project(db, name, plan)
        pair = [longwrite("write", "--resume", name, "--db", str(db)) for _ in range(2)]
        outcomes = [(p.wait(timeout=WAIT_S), p.stderr.read()) for p in pair]
        codes = sorted(code for code, _ in outcomes)
        loser = [err for code, err in outcomes if code == 2]
        if codes == [0, 2] and "being written by" in loser[0] and "Traceback" not in loser[0]:
            refused += 1
        both_wrote += codes == [0, 0]
        with sqlite3.connect(db) as conn:
            versions = conn.execute(
                "select count(*) from section_versions v join projects p on p.id = v.project_id "
                "where p.name = ?",
                [name],
            ).fetchone()[0]
        conn.close()
        duplicated += versions != len(ROWS)
    return {
        "races": count,
        "one_refused": refused,
        "both_wrote": both_wrote,
        "projects_with_a_duplicated_section": duplicated,
    }


def _create_planned_project(db: Path, name: str, plan: Path) -> None:
    from engine.schema import Plan
    from engine.store.database import Store

    store = Store(db)
    project = store.create_project(name, INSTRUCTION, len(ROWS) * 40)
    store.save_plan(project, Plan.model_validate_json(plan.read_text()))
    store.close()


def fuzz(folder: Path, examples: int, seed: int) -> dict:
    """Random text into every text field of the command line, in-process (click's runner)."""
    from click.testing import CliRunner
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from app.cli import cli
    from engine.text_hygiene import printable

    folder.mkdir()
    db = str(folder / "projects.db")
    runner = CliRunner()
    tally = {"examples": 0, "commands": 0, "tracebacks": 0, "user_errors": 0, "written": 0}
    failures: list[str] = []
    hostile = st.characters(
        codec="utf-8",
        categories=["L", "N", "P", "Z", "S", "Cc", "Cf"],
        include_characters="\x0b\x0c\x1b\u202e\u2066\ufeff\ufffe",
    )
    text = st.one_of(
        st.text(hostile, max_size=120),
        st.binary(max_size=120).map(lambda raw: os.fsdecode(raw.replace(b"\x00", b""))),
        st.text(st.sampled_from("秋天的风雨"), min_size=80, max_size=200),
    )

    def run(args: list[str], stdin: bytes | None = None):
        result = runner.invoke(cli, args, input=stdin)
        tally["commands"] += 1
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        if crashed or "Traceback" in result.output:
            tally["tracebacks"] += 1
            failures.append(f"{args[:2]}: {type(result.exception).__name__}: {result.exception}")
        elif result.exit_code == 2:
            tally["user_errors"] += 1
        return result

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(instruction=text, name=text, stdin=st.binary(max_size=200))
    def one_example(instruction: str, name: str, stdin: bytes) -> None:
        tally["examples"] += 1
        instruction = instruction.replace("\x00", "")  # an argument cannot hold NUL
        name = name.replace("\x00", "")
        common = ["--words", "12", "--mode", "single", "--ctx", "1024", "--db", db]
        written = run(["write", instruction, "--project", name, *common])
        run(["write", "-", "--project", name + " stdin", *common], stdin=stdin)
        if written.exit_code == 0:
            tally["written"] += 1
        run(["write", "--resume", name, "--db", db])
        for fmt in ("docx", "epub"):
            run(["export", "doc", name, "--format", fmt, "-o", str(folder / f"out.{fmt}")])
        listing = run(["projects", "--db", db])
        names = [line.split("\t")[0] for line in listing.output.splitlines()]
        raw = [name for name in names if name != printable(name)]
        if raw:
            failures.append(f"projects printed raw control characters: {raw[0]!r}")

    one_example()
    return {
        **tally,
        "failures": failures[:5],
        "raw_names_printed": sum("raw control" in f for f in failures),
    }


def damaged(folder: Path, plan: Path) -> dict:
    """Damage one page; every command refuses in one line; restore brings the text back."""
    from engine.store.backup import backup_files

    folder.mkdir()
    db = folder / "projects.db"
    written = finish(
        "write", INSTRUCTION, "--plan", str(plan), "--project", "keep", "--db", str(db)
    )
    assert written.returncode == 0, written.stderr
    before, after = folder / "before.md", folder / "after.md"
    finish("export", "doc", "keep", "-o", str(before), "--db", str(db))  # takes the daily backup
    automatic = backup_files(db)
    damage_page(db, "section_versions")
    refusals = {}
    for args in (
        ["projects"],
        ["export", "doc", "keep", "-o", str(after)],
        ["write", "--resume", "keep"],
    ):
        result = finish(*args, "--db", str(db))
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        refusals[" ".join(args[:2])] = (
            result.returncode == 2
            and "Traceback" not in result.stderr
            and len(errors) == 1
            and "longwrite restore" in errors[0]
        )
    restored = finish("restore", str(automatic[-1]), "--db", str(db)) if automatic else None
    exported = finish("export", "doc", "keep", "-o", str(after), "--db", str(db))
    return {
        "automatic_backups": len(automatic),
        "refused_in_one_line": refusals,
        "restore_exit_status": restored.returncode if restored else None,
        "text_identical_after_restore": exported.returncode == 0
        and after.read_bytes() == before.read_bytes(),
    }


def damage_page(db: Path, table: str = "section_versions") -> None:
    """Overwrite the b-tree page holding `table` with garbage (the file header stays intact)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page = conn.execute("select rootpage from sqlite_master where name = ?", [table])
        root = page.fetchone()[0]
    conn.close()
    with open(db, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)


def _histogram(values: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


if __name__ == "__main__":
    main()
