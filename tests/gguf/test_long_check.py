"""`--check-long`: predictions compared beyond 4,096 tokens catch a rope error that the short
probe lets through (a Llama-3.1-style rope-scaled tiny model, exported right and wrong)."""

import pytest

from tests.conftest import run_cli
from tests.gguf.conftest import save_tiny_model
from training.gguf import architectures
from training.gguf.export import export_gguf
from training.gguf.long_check import window_positions

pytestmark = pytest.mark.slow  # exports run torch and llama.cpp

LLAMA31_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,  # as Llama 3.1
}


@pytest.fixture
def llama31(trained_checkpoint, tmp_path):
    return save_tiny_model(
        tmp_path / "llama31",
        trained_checkpoint,
        "llama",
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=8192,
        rope_parameters=LLAMA31_ROPE,
        tie_word_embeddings=False,
    )


def test_windows_reach_the_checked_length():
    positions = window_positions(8192)
    assert positions[0] == 4096 - 32 and positions[-1] == 8191 and len(positions) == 64
    assert window_positions(20_000)[-1] == 19_999 and 16_383 in window_positions(20_000)


def test_right_export_passes_far_into_the_context(llama31, tmp_path):
    [result] = export_gguf(llama31, tmp_path / "models", ["F32"], check_long=True)
    print(result.check.summary(), "|", result.long_check.summary())
    assert result.long_check.decided_positions >= 16
    assert result.check.passed and result.long_check.passed, result.long_check.summary()
    assert result.path is not None


def test_wrong_rope_scaling_is_caught(llama31, tmp_path, monkeypatch):
    right = architectures.llama3_rope_factors
    # a deliberately wrong Llama 3.1 scaling: long wavelengths stretched by 7, not by 8
    monkeypatch.setattr(
        architectures, "llama3_rope_factors", lambda rope, dim: right({**rope, "factor": 7.0}, dim)
    )
    [result] = export_gguf(llama31, tmp_path / "models", ["F32"], check_long=True)
    print(result.check.summary(), "|", result.long_check.summary())
    assert result.check.passed, "the short probe was expected to miss this error"
    assert not result.long_check.passed
    assert result.path is None


def test_check_long_from_the_command_line(llama31, tmp_path):
    out = tmp_path / "models"
    result = run_cli(
        "export", "gguf", str(llama31), "-o", str(out), "--quant", "f32", "--check-long"
    )
    assert result.returncode == 0, result.stderr
    assert "beyond 4,096 tokens: top-1 agreement" in result.stdout
