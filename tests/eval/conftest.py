"""Fixtures of the evaluation tests: tiny benchmark files and an OpenAI-compatible server."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.models.backends import open_backend
from engine.models.settings import LoadSettings
from tests.conftest import llama_server
from training.eval.judge import DIMENSIONS

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


# The scripted judge's marks, chosen by a word of the row's prompt; S_q = (mark - 1) * 25
SCRIPTED_MARKS = {"neighbour": 4, "秋天": 2, "bicycle": 5}


def scripted_quality(prompt: str) -> float:
    """The S_q the scripted judge gives an answer to `prompt`."""
    mark = next(m for key, m in SCRIPTED_MARKS.items() if key in prompt)
    return (mark - 1) * 25.0


class _ScriptedJudge(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that answers every chat with fixed marks (streamed)."""

    def do_GET(self):
        self._send_json({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        prompt = json.dumps(json.loads(body)["messages"], ensure_ascii=False)
        mark = next(m for key, m in SCRIPTED_MARKS.items() if key in prompt)
        reply = json.dumps({d: mark for d in DIMENSIONS})
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": reply}, "finish_reason": None}]},
            {
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
            },
        ]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in chunks:
            chunk.update(id="1", object="chat.completion.chunk", created=0, model="scripted")
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _send_json(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def scripted_judge_url():
    """A deterministic judge on 127.0.0.1 (SCRIPTED_MARKS), so scores can be asserted exactly."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


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
    backend = open_backend(LoadSettings(model_path=str(model_path), n_ctx=4096, n_threads=threads))
    yield backend
    backend.close()
