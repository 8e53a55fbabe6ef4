"""GGUFs already on disk: a fake Ollama store, an LM Studio folder and a Hugging Face cache built
in a temporary HOME around the real embedded GGUF, listed by `models list` and written with."""

import json
import os
from pathlib import Path

import pytest

from engine.models.discovery import embedded_model_path
from engine.models.local_stores import found_models
from tests.conftest import run_cli

DIGEST = "sha256:" + "ab" * 32
NOT_GGUF_DIGEST = "sha256:" + "cd" * 32


def _manifest(digest: str) -> str:
    layers = [
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": 1},
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:00", "size": 1},
    ]
    return json.dumps({"schemaVersion": 2, "layers": layers})


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _link(path: Path, target: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A HOME holding three stores with one real GGUF each, plus files that must be skipped."""
    for name in ("OLLAMA_MODELS", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    model = embedded_model_path()
    ollama = tmp_path / ".ollama" / "models"
    library = ollama / "manifests" / "registry.ollama.ai" / "library"
    _write(library / "smollm2" / "135m", _manifest(DIGEST))
    _write(library / "broken" / "latest", "{ this is not json")
    _write(library / "notgguf" / "latest", _manifest(NOT_GGUF_DIGEST))
    _link(ollama / "blobs" / DIGEST.replace(":", "-"), model)
    _write(ollama / "blobs" / NOT_GGUF_DIGEST.replace(":", "-"), b"safetensors, not a GGUF")
    studio = tmp_path / ".lmstudio" / "models" / "bartowski" / "SmolLM2-GGUF"
    _link(studio / "SmolLM2-135M-Instruct-Q4_1.gguf", model)
    _write(studio / "big-00001-of-00002.gguf", b"GGUF" + bytes(64))
    snapshots = tmp_path / ".cache" / "huggingface" / "hub" / "models--org--tiny-GGUF" / "snapshots"
    blob = _write(tmp_path / "hfblob", model.read_bytes())  # a distinct file, as the cache keeps
    _link(snapshots / "rev1" / "tiny.Q4_1.gguf", blob)
    _link(snapshots / "rev2" / "tiny.Q4_1.gguf", blob)  # two revisions, one blob: listed once
    return tmp_path


def test_models_list_json_lists_exactly_the_real_ggufs(home, tmp_path):
    result = run_cli("models", "list", "--json", "--verbose", "--models-dir", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["models"]
    stores = ("ollama", "lm studio", "hf cache")
    found = {row["source"]: row for row in rows if row["source"] in stores}
    assert len([r for r in rows if r["source"] in stores]) == 3, rows
    assert found["ollama"]["name"] == "smollm2:135m"
    assert found["ollama"]["path"].endswith("blobs/sha256-" + "ab" * 32)
    assert found["lm studio"]["name"] == "bartowski/SmolLM2-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf"
    assert found["hf cache"]["name"] == "org/tiny-GGUF/tiny.Q4_1.gguf"
    size = embedded_model_path().stat().st_size
    for row in found.values():
        assert row["quantization"] == "Q4_1" and row["size_bytes"] == size
        assert row["context_length"] == 8192 and row["memory_bytes"] > size
    skipped = result.stderr.splitlines()
    assert len(skipped) == 3, skipped  # the broken manifest, the non-GGUF blob, the split part
    assert any("broken/latest" in line for line in skipped)
    assert any("cd" * 32 in line and "GGUF" in line for line in skipped)
    assert any("00001-of-00002" in line and "split" in line for line in skipped)
    assert "Traceback" not in result.stderr


def test_models_list_table_shows_where_each_lies(home):
    result = run_cli("models", "list")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # without --verbose the skipped files say nothing
    line = next(line for line in result.stdout.splitlines() if line.startswith("ollama"))
    assert "smollm2:135m" in line and "Q4_1" in line and str(home / ".ollama") in line


def test_environment_variables_move_the_stores(home, tmp_path, monkeypatch):
    moved = tmp_path / "elsewhere"
    (home / ".ollama").rename(moved)
    monkeypatch.setenv("OLLAMA_MODELS", str(moved / "models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-hf-here"))
    sources = sorted(model.source for model in found_models())
    assert sources == ["lm studio", "ollama"]


@pytest.mark.slow  # writes with the embedded model
def test_write_with_a_listed_ollama_blob(home, tmp_path):
    listed = json.loads(run_cli("models", "list", "--json").stdout)["models"]
    blob = next(row["path"] for row in listed if row["source"] == "ollama")
    stats = tmp_path / "stats.json"
    written = run_cli(
        "write",
        "a short note about rain on a tin roof",
        "--words",
        "60",
        "--mode",
        "single",
        "--model",
        blob,
        "--db",
        str(tmp_path / "projects.db"),
        "--stats-json",
        str(stats),
    )
    assert written.returncode == 0, written.stderr
    result = json.loads(stats.read_text())
    assert result["words"] > 0
    assert not (home / ".local" / "share" / "longwrite" / "models").exists()  # nothing copied
