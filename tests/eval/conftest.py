"""Fixtures of the evaluation tests: tiny benchmark files and an OpenAI-compatible server."""

import json
import os
from pathlib import Path

import pytest

from engine.backends import open_backend
from tests.conftest import llama_server

TINY_ROWS = [
    {
        "prompt": "Write a 40-word note thanking a neighbour for feeding the cat.",
        "type": "Functional Writing",
        "length": 40,
    },
    {
        "prompt": "写一段60字的秋天景色描写。",
        "type": "Literature and Creative Writing",
        "length": 60,
    },
    {
        "prompt": "Write a 50-word news brief about a new bicycle path.",
        "type": "News Report",
        "length": 50,
    },
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture
def tiny_bench(tmp_path) -> Path:
    """Three small LongBench-Write style rows: English and Chinese, 40 to 120 words."""
    return write_rows(tmp_path / "tiny.jsonl", TINY_ROWS)


@pytest.fixture(scope="module")
def openai_server(model_path):
    """llama-cpp-python's OpenAI-compatible server on the embedded model; yields its /v1 URL."""
    with llama_server(model_path, "smol") as url:
        yield url


@pytest.fixture(scope="module")
def judge_backend(model_path):
    """The embedded model for judging, with LONGWRITE_THREADS threads when that is set."""
    threads = int(os.environ.get("LONGWRITE_THREADS", "0")) or None
    backend = open_backend(str(model_path), n_ctx=4096, n_threads=threads)
    yield backend
    backend.close()
