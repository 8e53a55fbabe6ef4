"""SFT and DPO sharded over two CPU processes (FSDP full_shard, gloo), launched and saved the
way the PROCS=2 CPU miniature does it: the loss follows a one-process run of the same global
batch, and the final checkpoints are complete and reload."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.metrics_log import read_losses

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "training/recipes"
pytestmark = pytest.mark.slow  # about two minutes on two shared cores


def sft_recipe(folder: Path, data: Path, accumulation: int) -> Path:
    path = folder / "sft.yaml"
    path.write_text(
        f"""model: {{name: embedded, tiny: {{hidden_size: 64, layers: 2, heads: 4}}}}
data: {data}
output_dir: {folder}/sft
pack_length: 64
trainer:
  learning_rate: 3.0e-3
  max_steps: 5
  per_device_train_batch_size: 1
  gradient_accumulation_steps: {accumulation}
  save_strategy: steps
  save_steps: 5
  bf16: false
  activation_checkpointing: false
  use_cpu: true
  seed: 0
"""
    )
    return path


def dpo_recipe(folder: Path, pairs: Path) -> Path:
    path = folder / "dpo.yaml"
    path.write_text(
        f"""model: {{name: {folder}/sft/final}}
data: {pairs}
output_dir: {folder}/dpo
trainer: {{learning_rate: 1.0e-3, max_steps: 3, max_length: 128, bf16: false,
  activation_checkpointing: false, use_cpu: true, seed: 0, save_strategy: "no"}}
"""
    )
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory, tokenizer):
    """Enough short chat rows for 5 steps of 2 packs of 64 tokens, and preference pairs."""
    from training.prepare import prepare
    from training.records import Conversation, read_jsonl

    folder = tmp_path_factory.mktemp("sharded-data")
    rows = read_jsonl(RECIPES / "cpu/general.jsonl", Conversation)
    prepare(tokenizer, rows * 4, [], folder / "sft_data", max_length=64)
    pairs = []
    for row, other in zip(rows, rows[1:] + rows[:1], strict=True):
        messages = [m.model_dump() for m in row.messages]
        pairs.append(
            {
                "prompt": messages[:-1],
                "chosen": messages[-1:],
                "rejected": [m.model_dump() for m in other.messages[-1:]],
            }
        )
    (folder / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return folder / "sft_data", folder / "pairs.jsonl"


def run(command: list[str], **env) -> None:
    done = subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def stage(script: str, run_folder: Path, **env) -> None:
    """A stage script launched as `PROCS=2 run_cpu.sh` launches it."""
    launch = f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node 2 -m app"
    run(
        ["bash", str(RECIPES / script)],
        RUN=str(run_folder),
        LAUNCH=launch,
        TRAIN_ARGS=f"--fsdp {RECIPES / 'cpu/fsdp.json'}",
        **env,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data):
    sft_data, pairs = data
    one, two = tmp_path_factory.mktemp("one-process"), tmp_path_factory.mktemp("two-processes")
    run([sys.executable, "-m", "app", "train", "sft", str(sft_recipe(one, sft_data, 2))])
    stage("3_sft.sh", two, SFT_RECIPE=str(sft_recipe(two, sft_data, 1)))
    stage("5_dpo.sh", two, DPO_RECIPE=str(dpo_recipe(two, pairs)))
    return one, two


def test_sharded_loss_matches_one_process(runs):
    one, two = runs
    single = [loss for _, loss in read_losses(one / "sft/metrics.jsonl")][:5]
    sharded = [loss for _, loss in read_losses(two / "sft/metrics.jsonl")][:5]
    print("one process ", single, "\ntwo processes", sharded)
    assert len(single) == len(sharded) == 5
    for a, b in zip(single, sharded, strict=True):
        assert abs(a - b) <= 0.01 * abs(a)


def test_final_checkpoints_are_complete(runs):
    from transformers import AutoModelForCausalLM

    one, two = runs
    reference = load_file(one / "sft/final/model.safetensors")
    sft = load_file(two / "sft/final/model.safetensors")
    assert sft.keys() == reference.keys()
    for name, tensor in reference.items():
        assert sft[name].shape == tensor.shape, name
        torch.testing.assert_close(sft[name], tensor, rtol=1e-3, atol=1e-4, msg=name)
    dpo = load_file(two / "dpo/final/model.safetensors")
    assert dpo.keys() == sft.keys()
    assert any(not dpo[name].equal(sft[name]) for name in sft), "DPO changed nothing"
    for stage_name in ("sft", "dpo"):
        model = AutoModelForCausalLM.from_pretrained(two / stage_name / "final")
        assert sum(p.numel() for p in model.parameters()) > 3_000_000
        assert (two / stage_name / "final/tokenizer.json").is_file()
    # the checkpoint holds FSDP's own files: the run really was sharded, not plain DDP
    assert (two / "sft/checkpoint-5/pytorch_model_fsdp.bin").is_file()
