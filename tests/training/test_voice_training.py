"""A voice trained from the embedded model on the synthetic writer, on the CPU: the held-out
loss drops, the text it writes moves toward the writer's habits, its GGUF adapter in llama.cpp
predicts like the merged model, a killed training resumes, and DPO runs on 20 pairs.

Kept short (a few hundred words a step, rank 4); bench/voice.py makes the longer measurement.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from bench.synthetic_writer import manuscript
from bench.voice import compare_habits, scripted_rows
from harness.fake_backend import FakeBackend
from tests.conftest import REPO
from training.voice.data import build_voice_data, read_sources
from training.voice.train import VoiceSettings, train_voice

pytestmark = pytest.mark.slow

SETTINGS = VoiceSettings(steps=8, rank=4, learning_rate=1e-3, save_steps=8, seed=0)


@pytest.fixture(scope="module")
def voice_data(tmp_path_factory):
    """Four short stories of four scenes by the synthetic writer, as voice data (rows
    back-translated by the scripted model: the data test covers the real path)."""
    root = tmp_path_factory.mktemp("voice")
    source = root / "writer.md"
    source.write_text(manuscript(seed=0, pieces=4, sections=4, words=45), encoding="utf-8")
    sources = read_sources([str(source)])
    build_voice_data(FakeBackend(scripted_rows), sources, root / "data", needed=500)
    return root / "data"


@pytest.fixture(scope="module")
def trained(voice_data):
    from training.gguf.lora_adapter import write_lora_gguf

    out = voice_data.parent / "voice"
    report = train_voice(voice_data, out, SETTINGS)
    adapter = write_lora_gguf(out / "adapter", "embedded", voice_data.parent / "voice.gguf")
    return report, out, adapter


def test_held_out_loss_drops_by_a_clear_margin(trained):
    report, _, _ = trained
    print(json.dumps(report.__dict__))
    assert report.held_out_loss_after < report.held_out_loss_before - 0.2


def test_text_moves_toward_the_writers_habits(trained, voice_data):
    _, _, adapter = trained
    measured = compare_habits(adapter, voice_data, seed=0, max_tokens=100)
    print(json.dumps(measured))
    assert measured["voice"]["distance"] < measured["base"]["distance"] - 0.05
    assert measured["voice"]["second_person"] > measured["base"]["second_person"]


def test_the_exported_adapter_predicts_like_the_merged_model(trained, tmp_path):
    """`export gguf-lora` writes the adapter, loads the base with it in llama.cpp and compares
    its next-token predictions with the merged model's; F16 must agree on 98 % of the decided
    positions."""
    _, out, _ = trained
    target = tmp_path / "voice.gguf"
    result = subprocess.run(
        [sys.executable, "-m", "app", "export", "gguf-lora", str(out), "-o", str(target)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    print(result.stderr.strip().splitlines()[-1])
    agreement = re.search(r"top-1 agreement ([\d.]+) on (\d+) decided", result.stderr)
    assert float(agreement[1]) >= 0.98 and int(agreement[2]) >= 100
    assert target.is_file()


def test_a_killed_training_resumes_from_its_checkpoint(voice_data, tmp_path):
    out = tmp_path / "voice"
    command = [sys.executable, "-m", "app", "voice", "train", str(voice_data), "-o", str(out)]
    command += ["--steps", "2", "--save-steps", "1", "--rank", "4"]
    first = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (out / "checkpoint-1" / "trainer_state.json").is_file():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.5)
    time.sleep(1)  # let the checkpoint's last files land
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    logged = (out / "metrics.jsonl").read_text().splitlines()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    resumed = steps[len(logged) :]
    assert resumed and min(s for s in resumed if s) >= 2  # went on from checkpoint 1
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert "Held-out loss" in second.stderr


def test_dpo_runs_on_the_lora_with_twenty_pairs(trained, voice_data, tmp_path):
    from training.voice.train import run_voice_dpo

    _, out, _ = trained
    pair = {
        "prompt": [{"role": "user", "content": "Write one line."}],
        "chosen": [{"role": "assistant", "content": "You wait quietly at the threshold."}],
        "rejected": [{"role": "assistant", "content": "He waited at the door for hours."}],
    }
    pairs = tmp_path / "preferences.jsonl"
    pairs.write_text((json.dumps(pair) + "\n") * 20)
    settings = VoiceSettings(**{**SETTINGS.__dict__, "steps": 2})
    weights = out / "adapter" / "adapter_model.safetensors"
    before = weights.read_bytes()
    assert run_voice_dpo(pairs, out, settings) == 20
    assert weights.read_bytes() != before  # the same LoRA, moved by DPO
    assert (out / "final" / "config.json").is_file()  # merged again
