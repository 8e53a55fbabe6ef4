"""`longwrite eval` end to end on the embedded model: run, judge, resume, Ctrl-C, ruler, compare."""

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from engine.metrics import count_words, length_score
from tests.conftest import REPO, run_cli
from tests.eval.conftest import TINY_ROWS, scripted_quality, write_rows

pytestmark = pytest.mark.slow  # the evaluation CLI runs the embedded model in subprocesses


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory, scripted_judge_url):
    """An AgentWrite run of the first two tiny rows on the embedded GGUF, judged by the
    scripted judge so that the quality figures are known in advance."""
    folder = tmp_path_factory.mktemp("judged")
    bench = write_rows(folder / "tiny.jsonl", TINY_ROWS)
    out = folder / "run"
    args = [
        "eval",
        "longbench",
        "--input",
        str(bench),
        "--out",
        str(out),
        "--judge-base-url",
        scripted_judge_url,
        "--judge-model",
        "scripted",
        "--limit",
        "2",
    ]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return out, args, result


def test_longbench_run_scores_judges_and_reports(judged_run):
    out, _, result = judged_run
    predictions = _lines(out / "predictions.jsonl")
    assert [(p["id"], p["language"]) for p in predictions] == [(0, "en"), (1, "zh")]
    for p in predictions:
        assert p["words"] == count_words(p["response"]) > 0
        assert p["length_score"] == pytest.approx(length_score(p["required"], p["words"]), abs=0.01)
    judgments = _lines(out / "judgments.jsonl")
    assert sorted(j["id"] for j in judgments) == [0, 1]
    expected = {row: scripted_quality(TINY_ROWS[row]["prompt"]) for row in (0, 1)}
    assert {j["id"]: (j["status"], j["scores"]["quality_score"]) for j in judgments} == {
        row: ("ok", quality) for row, quality in expected.items()
    }
    scores = json.loads((out / "scores.json").read_text())
    assert scores["overall"]["rows"] == 2 and scores["missing"] == 0
    mean = sum(p["length_score"] for p in predictions) / 2
    assert scores["overall"]["length_score"] == pytest.approx(mean, abs=0.01)
    assert set(scores["by_language"]) == {"en", "zh"} and list(scores["by_bucket"]) == ["0–500"]
    quality = (expected[0] + expected[1]) / 2  # 75 and 25
    assert scores["overall"]["quality_score"] == pytest.approx(quality, abs=0.01)
    assert scores["overall"]["overall"] == pytest.approx((mean + quality) / 2, abs=0.01)
    assert scores["by_language"]["zh"]["quality_score"] == pytest.approx(expected[1], abs=0.01)
    report = (out / "report.md").read_text()
    assert "## By required length" in report and "| 0–500 | 2 |" in report
    assert (out / "lengths.png").read_bytes()[:4] == b"\x89PNG"
    assert "# LongBench-Write" in result.stdout


def test_resume_skips_done_rows_and_extends_the_selection(judged_run):
    out, args, _ = judged_run
    again = run_cli(*args)
    assert again.returncode == 2 and "--resume" in again.stderr
    assert "Traceback" not in again.stderr
    extended = [*args[:-1], "3", "--resume"]  # --limit 3
    result = run_cli(*extended)
    assert result.returncode == 0, result.stderr
    assert [p["id"] for p in _lines(out / "predictions.jsonl")] == [0, 1, 2]
    assert sorted(j["id"] for j in _lines(out / "judgments.jsonl")) == [0, 1, 2]
    overall = json.loads((out / "scores.json").read_text())["overall"]
    assert overall["rows"] == 3
    expected = sum(scripted_quality(row["prompt"]) for row in TINY_ROWS) / 3
    assert overall["quality_score"] == pytest.approx(expected, abs=0.01)


def _row_state(db, name):
    """(project status, section versions with text) of a row's project, read while it runs."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            status = connection.execute(
                "select status from projects where name = ?", [name]
            ).fetchone()
            texts = connection.execute(
                "select count(*) from section_versions v join projects p on p.id = v.project_id "
                "where p.name = ? and length(v.text) > 0",
                [name],
            ).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return None, 0
    return (status[0] if status else None), texts


def test_ctrl_c_then_resume_continues_the_stopped_answer(tmp_path):
    rows = [TINY_ROWS[0], {"prompt": "Write a 300-word story about a lost kite.", "length": 300}]
    bench = write_rows(tmp_path / "two.jsonl", rows)
    out = tmp_path / "run"
    args = ["eval", "longbench", "--input", str(bench), "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a shell that started this test in the background may ignore SIGINT; children inherit
        # that, and Python then installs no Ctrl-C handler: give the child the default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while _row_state(out / "projects.db", "row-1") != ("writing", 1):
        assert process.poll() is None and time.monotonic() < deadline, "row 1 never started"
        time.sleep(0.2)
    time.sleep(1.5)  # let it write (and autosave) part of the first section
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "--resume" in stderr and "Traceback" not in stderr
    assert [p["id"] for p in _lines(out / "predictions.jsonl")] == [0]
    assert _row_state(out / "projects.db", "row-1") == ("stopped", 1)

    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    predictions = _lines(out / "predictions.jsonl")
    assert [p["id"] for p in predictions] == [0, 1]
    status, versions = _row_state(out / "projects.db", "row-1")
    # every section has exactly one version: the stopped one was continued, not begun again
    assert status == "done" and versions == predictions[1]["sections"]


def test_ruler_single_pass_and_compare(tmp_path, judged_run):
    rows = [
        {"prompt": "Write a 30-word poem about rain.", "length": 30},
        {"prompt": "写一首80字的关于雪的诗。", "length": 80},
        {"prompt": "Write an 80-word poem about snow.", "length": 80},
    ]
    bench = write_rows(tmp_path / "ruler.jsonl", rows)
    out = tmp_path / "ruler"
    result = run_cli(
        "eval",
        "ruler",
        "--input",
        str(bench),
        "--mode",
        "single",
        "--ctx",
        "512",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    words = [p["words"] for p in _lines(out / "predictions.jsonl")]
    scores = json.loads((out / "scores.json").read_text())
    assert scores["kind"] == "ruler" and scores["max_words"] == max(words)
    assert [(p["required"], p["rows"], p["max_words"]) for p in scores["points"]] == [
        (30, 1, words[0]),
        (80, 2, max(words[1:])),
    ]
    assert (out / "ruler.png").read_bytes()[:4] == b"\x89PNG"

    mixed = run_cli("eval", "compare", str(judged_run[0]), str(out), "--out", str(tmp_path / "c"))
    assert mixed.returncode == 2 and "one kind" in mixed.stderr
    compared = run_cli(
        "eval",
        "compare",
        str(out),
        str(shutil.copytree(out, tmp_path / "ruler2")),
        "--out",
        str(tmp_path / "cmp"),
    )
    assert compared.returncode == 0, compared.stderr
    assert "| ruler2 | single |" in compared.stdout and "longest @80" in compared.stdout
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["longbench", "--input", "/nonexistent.jsonl"], "not found"),
        (
            ["longbench", "--input", "{bench}", "--judge-base-url", "http://127.0.0.1:9/v1"],
            "--judge-model",
        ),
        (
            [
                "longbench",
                "--input",
                "{bench}",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model-name",
                "m",
            ],
            "Cannot reach",
        ),
        (["compare", "/nonexistent-run"], "no scores.json"),
    ],
)
def test_user_errors_are_one_line(tmp_path, tiny_bench, args, message):
    args = [a.replace("{bench}", str(tiny_bench)) for a in args]
    result = run_cli("eval", *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
