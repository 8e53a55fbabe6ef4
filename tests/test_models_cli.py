"""`longwrite models list|pull` against a local Hub, the memory check, and GPU offload settings
as a user meets them on the command line."""

import hashlib
import json
import socket

import pytest

from engine.models.discovery import embedded_model_path
from tests.conftest import one_line_error, run_cli
from tests.hub_server import HubServer

REPO_ID = "test-org/SmolLM2-135M-Instruct-GGUF"
FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _pull_error(result) -> str:
    """A failed pull: progress lines (the announcement, tqdm's bar), then one error line."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    *progress, error = result.stderr.replace("\r", "\n").strip().splitlines()
    assert all(line.startswith("Downloading") or "|" in line for line in progress), progress
    assert error.startswith("Error: "), error
    return error


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return embedded_model_path().read_bytes()


@pytest.mark.slow  # runs the embedded model
def test_pull_resumes_a_dropped_connection_lists_and_writes(tmp_path, monkeypatch, model_bytes):
    models_dir = tmp_path / "models"
    repos = {REPO_ID: {FILENAME: model_bytes, "README.md": b"# test\n"}}
    with HubServer(repos, drop_once={FILENAME}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        pulled = run_cli("models", "pull", REPO_ID, FILENAME, "--models-dir", str(models_dir))
        assert pulled.returncode == 0, pulled.stderr
        assert hub.range_requests, "the dropped download was not resumed with a Range request"
    target = models_dir / FILENAME
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(model_bytes).digest()
    assert _leftovers(models_dir) == [FILENAME]

    listed = run_cli("models", "list", "--models-dir", str(models_dir))
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "models folder" in line)
    assert "Q4_1" in row

    stats = tmp_path / "stats.json"
    written = run_cli(
        "write",
        "a short note about rain on a tin roof",
        "--words",
        "60",
        "--mode",
        "single",
        "--model",
        str(target),
        "--db",
        str(tmp_path / "projects.db"),
        "--stats-json",
        str(stats),
    )
    assert written.returncode == 0, written.stderr
    assert "Model on CPU; context 8,192 tokens (the model's trained length)" in written.stderr
    result = json.loads(stats.read_text())
    assert result["words"] > 0
    assert result["device"] == "CPU"
    assert result["gpu_layers_offloaded"] == 0
    assert result["model"] == str(target)


def test_pull_chooses_the_file_by_quantization(tmp_path, monkeypatch):
    small = b"GGUF" + bytes(4096)
    repos = {REPO_ID: {"m.Q8_0.gguf": small + b"8", "m.Q4_K_M.gguf": small + b"4"}}
    with HubServer(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        into = ["--models-dir", str(tmp_path)]
        pulled = run_cli("models", "pull", REPO_ID, "--quant", "q4_k_m", *into)
        assert pulled.returncode == 0, pulled.stderr
        assert (tmp_path / "m.Q4_K_M.gguf").read_bytes() == small + b"4"
        missing = run_cli("models", "pull", REPO_ID, "--quant", "Q6_K", *into)
    message = _pull_error(missing)
    assert "Q4_K_M" in message and "Q8_0" in message
    assert _leftovers(tmp_path) == ["m.Q4_K_M.gguf"]


@pytest.mark.parametrize(
    "args, hint",
    [
        ([REPO_ID, "missing.gguf"], "has no file"),
        (["nobody/nothing-GGUF", "x.gguf"], "No model repository"),
        ([REPO_ID, "notes.gguf"], "not a GGUF"),
    ],
)
def test_pull_failures_are_one_line_and_leave_nothing(tmp_path, monkeypatch, args, hint):
    repos = {REPO_ID: {"notes.gguf": b"just some text, not a model\n" * 100}}
    with HubServer(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = run_cli("models", "pull", *args, "--models-dir", str(tmp_path / "models"))
    assert hint in _pull_error(result)
    assert _leftovers(tmp_path / "models") == []


def test_pull_offline_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    result = run_cli("models", "pull", REPO_ID, FILENAME, "--models-dir", str(tmp_path / "m"))
    assert "Cannot download" in _pull_error(result)
    assert _leftovers(tmp_path / "m") == []


def test_models_list_shows_embedded_and_catalogue(tmp_path):
    result = run_cli("models", "list", "--models-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("SmolLM2-135M-Instruct" in line and "embedded" in line for line in lines)
    for key in ("longwriter-llama3.1-8b-q4_k_m", "longwriter-glm4-9b-q4_k_m"):
        assert any(f"pull {key}" in line for line in lines), key


@pytest.mark.parametrize("ctx", [None, "8192"])
def test_model_too_big_for_memory_is_refused_in_one_line(monkeypatch, ctx):
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "200")
    args = ["plan", "a story about a lighthouse", "--words", "300"]
    message = one_line_error(run_cli(*args, *(["--ctx", ctx] if ctx else [])))
    assert "0.2 GB" in message and "free" in message  # the limit stands for free memory
    assert "smaller quantization" in message
    if ctx:
        assert "8,192-token context" in message and "--kv-cache q8_0" in message


def test_gpu_layers_must_be_a_number_or_auto():
    result = run_cli("plan", "a story", "--words", "300", "--gpu-layers", "lots")
    assert result.returncode == 2
    assert "--gpu-layers" in result.stderr and "Traceback" not in result.stderr


def test_studio_refuses_a_model_too_big_before_serving(monkeypatch, tmp_path):
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "100")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    db = str(tmp_path / "projects.db")  # never the user's own database
    message = one_line_error(run_cli("studio", "--port", port, "--db", db, timeout=120))
    assert "smaller quantization" in message
