"""`longwrite export gguf` as a user runs it: one-line errors with exit status 2, and success."""

import json

import pytest

from tests.conftest import run_cli
from tests.gguf.conftest import save_tiny_model

pytestmark = pytest.mark.slow  # exports run torch and llama.cpp


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unknown_quantization(tmp_path):
    error = _one_line_error(run_cli("export", "gguf", str(tmp_path), "--quant", "q4_k_m,q9"))
    assert "Q9" in error and "q8_0" in error


def test_missing_checkpoint(tmp_path):
    error = _one_line_error(
        run_cli("export", "gguf", str(tmp_path / "nowhere"), "-o", str(tmp_path))
    )
    assert "not a folder" in error


def test_unsupported_architecture_lists_the_supported_ones(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    error = _one_line_error(run_cli("export", "gguf", str(tmp_path), "-o", str(tmp_path / "out")))
    assert "'gpt2'" in error and "glm, glm4, llama, qwen2, qwen3" in error


def test_remote_code_glm_layout_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "chatglm"}))
    error = _one_line_error(run_cli("export", "gguf", str(tmp_path), "-o", str(tmp_path / "out")))
    assert "LongWriter-glm4-9b" in error and "'glm'" in error


def test_export_writes_checked_files(trained_checkpoint, tmp_path):
    folder = save_tiny_model(tmp_path / "tiny", trained_checkpoint, "qwen2")
    out = tmp_path / "models"
    result = run_cli(
        "export", "gguf", str(folder), "-o", str(out), "--quant", "f32,f16", "--name", "Tiny"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["Tiny-F16.gguf", "Tiny-F32.gguf"]
    assert "top-1 agreement" in result.stdout and "mean KL" in result.stdout
