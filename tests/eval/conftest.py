"""Fixtures of the evaluation tests: tiny benchmark files and an OpenAI-compatible server."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from training.eval.models import open_model

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def openai_server(model_path):
    """llama-cpp-python's OpenAI-compatible server on the embedded model; yields its /v1 URL."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            "smol",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the llama.cpp server did not start")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def judge_backend(model_path):
    """The embedded model for judging, with LONGWRITE_THREADS threads when that is set."""
    threads = int(os.environ.get("LONGWRITE_THREADS", "0")) or None
    backend = open_model(str(model_path), n_ctx=4096, threads=threads)
    yield backend
    backend.close()
