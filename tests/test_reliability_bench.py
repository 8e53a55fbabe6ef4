"""bench/reliability.py in miniature, so the script behind the README's figures keeps working."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_reliability_bench_in_miniature():
    result = subprocess.run(
        [sys.executable, "-m", "bench.reliability", "--kills", "2", "--races", "1", "--fuzz", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    kills = figures["kills"]
    assert kills["resumed_to_the_end"] == kills["finished_sections_byte_identical"] == 2
    assert kills["runs_recorded_as_they_ended"] + kills["killed_before_the_run_began"] == 2
    assert figures["races"]["one_refused"] == 1
    assert figures["races"]["projects_with_a_duplicated_section"] == 0
    assert figures["fuzz"]["examples"] == 3 and figures["fuzz"]["tracebacks"] == 0
    assert figures["fuzz"]["raw_names_printed"] == 0
    damaged = figures["damaged"]
    assert all(damaged["refused_in_one_line"].values()) and damaged["restore_exit_status"] == 0
    assert damaged["text_identical_after_restore"]
