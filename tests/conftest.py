"""Shared fixtures: the real embedded model through llama.cpp, and temporary databases."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.models.backends.llama_cpp import LlamaCppBackend
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings

REPO = Path(__file__).resolve().parents[1]

# Fixtures that bring a real model, a model server or a browser: a test using any of them is
# marked slow, so `pytest -m "not slow"` is the fast suite on the scripted fake backend.
REAL_PARTS = {"backend", "model_path", "saved_project", "openai_server", "judge_backend", "browser"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if REAL_PARTS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model_path() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def backend(model_path) -> LlamaCppBackend:
    """One llama.cpp instance of the embedded model, shared by the tests that generate."""
    loaded = LlamaCppBackend(model_path, LoadSettings(n_ctx=8192))
    yield loaded
    loaded.close()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "projects.db"


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The message of a command that failed as a user error should: exit 2, one line, no
    traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message and "\n" not in message, message
    return message


def run_cli(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `longwrite` command in a subprocess, as a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        **kwargs,
    )


@contextmanager
def llama_server(model_path: Path, alias: str):
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1 and a free port; yields /v1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--verbose",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):  # up to a minute for the model to load
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("the llama.cpp server exited while starting")
                time.sleep(0.5)
        else:
            pytest.fail("the llama.cpp server did not start within a minute")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
