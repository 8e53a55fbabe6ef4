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
    assert "'gpt2'" in error and "chatglm, glm, glm4, llama, qwen2, qwen3" in error


def test_remote_code_glm_config_missing_a_key_is_named(tmp_path):
    """THUDM's layout is read, not refused; a config.json it cannot be read from says why."""
    config = {
        "model_type": "chatglm",
        "num_layers": 2,
        "hidden_size": 64,
        "ffn_hidden_size": 128,
        "num_attention_heads": 4,
        "seq_length": 8192,
        "layernorm_epsilon": 1.5625e-07,
        "padded_vocab_size": 1024,
        "multi_query_attention": True,
        "multi_query_group_num": 2,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    error = _one_line_error(run_cli("export", "gguf", str(tmp_path), "-o", str(tmp_path / "out")))
    assert "config.json" in error and "'chatglm'" in error and "lacks kv_channels." in error


def test_export_writes_checked_files(trained_checkpoint, tmp_path):
    folder = save_tiny_model(tmp_path / "tiny", trained_checkpoint, "qwen2")
    out = tmp_path / "models"
    result = run_cli(
        "export", "gguf", str(folder), "-o", str(out), "--quant", "f32,f16", "--name", "Tiny"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["Tiny-F16.gguf", "Tiny-F32.gguf"]
    assert "top-1 agreement" in result.stdout and "mean KL" in result.stdout


def test_export_downloads_a_hub_id_first(trained_checkpoint, tmp_path, monkeypatch):
    """A hub id is fetched (weights, config, tokenizer; never its code) from the hub, here a
    local stand-in, and exported as a folder would be; an id the hub lacks is one line."""
    from tests.hub_server import HubServer

    folder = save_tiny_model(tmp_path / "tiny", trained_checkpoint, "qwen2")
    files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    files["modeling_tiny.py"] = b"raise SystemExit('the remote code ran')\n"
    out = tmp_path / "models"
    with HubServer({"someone/tiny": files}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
        result = run_cli("export", "gguf", "someone/tiny", "-o", str(out), "--quant", "f16")
        missing = run_cli("export", "gguf", "someone/nothing", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["tiny-F16.gguf"]  # named after the repo
    assert not list((tmp_path / "cache").rglob("modeling_tiny.py"))
    assert "someone/nothing is not a folder" in _one_line_error(missing)
