"""The CPU miniature of the GPU recipe, end to end: AgentWrite data on the embedded model →
SFT → preference pairs → DPO, each stage's loss going down and HF checkpoints saved."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.metrics_log import read_losses

pytestmark = pytest.mark.slow  # the whole CPU recipe runs

REPO = Path(__file__).resolve().parents[2]


def test_cpu_miniature(tmp_path):
    run = tmp_path / "run"
    env = {
        **os.environ,
        "LONGWRITE": f"{sys.executable} -m app",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        ["bash", str(REPO / "training/recipes/run_cpu.sh"), str(run)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    long_rows = [json.loads(line) for line in (run / "long.jsonl").read_text().splitlines()]
    assert long_rows and all(row["messages"][-1]["role"] == "assistant" for row in long_rows)
    pairs = (run / "pairs.jsonl").read_text().splitlines()
    assert pairs and {"prompt", "chosen", "rejected"} <= json.loads(pairs[0]).keys()

    # every AgentWrite step is cached: a resumed build finishes from the cache alone
    built = (run / "long.jsonl").read_text()
    (run / "long.jsonl").unlink()
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "data",
            "agentwrite",
            "--resume",
            "--instructions",
            str(REPO / "training/recipes/cpu/instructions.txt"),
            "--out",
            str(run / "long.jsonl"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert (run / "long.jsonl").read_text() == built

    for stage in ("sft", "dpo"):
        losses = [loss for _, loss in read_losses(run / stage / "metrics.jsonl")]
        assert len(losses) >= 3 and losses[-1] < losses[0], (stage, losses)
        final = run / stage / "final"
        assert (final / "config.json").is_file() and (final / "model.safetensors").is_file()
        assert (final / "tokenizer.json").is_file()
        assert (run / stage / "loss.png").is_file()
        assert any((run / stage).glob("checkpoint-*/trainer_state.json"))
