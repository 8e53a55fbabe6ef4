"""Shared fixtures: the real embedded model through llama.cpp, and temporary databases."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backends.llama_cpp import LlamaCppBackend
from engine.models import embedded_model_path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_path() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def backend(model_path) -> LlamaCppBackend:
    """One llama.cpp instance of the embedded model, shared by the tests that generate."""
    loaded = LlamaCppBackend(model_path, n_ctx=8192)
    yield loaded
    loaded.close()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "projects.db"


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
