"""gpu_smoke.sh, ready for the day a GPU is lent, cannot rot: its CPU part runs here at toy size
(--cpu-check): model, data with an eval split, SFT killed after a checkpoint and resumed, DPO
with the reference loaded like the policy, GGUF export checked in llama.cpp, one JSON report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training/recipes/gpu_smoke.sh"


def smoke(out: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), str(out), *args],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_gpu_mode_needs_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the GPU mode would run")
    done = smoke(tmp_path / "smoke", timeout=120)
    assert done.returncode != 0 and "use --cpu-check" in done.stderr


@pytest.mark.slow
def test_cpu_check_runs_every_stage(tmp_path):
    done = smoke(tmp_path / "smoke", "--cpu-check")
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))
    assert list(report["stage_end_s"]) == ["model", "data", "sft", "dpo"]
    assert report["sft"]["steps"] == 4 and report["sft_resumed_steps_logged_once"]
    assert len(report["sft"]["eval_loss"]) == 2
    assert report["dpo"]["steps"] == 2
    assert report["llama_cpp_gpu_layers"] == 0
    assert all(f["kept"] for f in report["export"].values()), report["export"]
    assert (tmp_path / "smoke/dpo/final/model.safetensors").is_file()
