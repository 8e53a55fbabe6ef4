"""A local OpenAI-compatible server in the dialect of LM Studio, KoboldCpp or llama.cpp's server,
127.0.0.1 only. It streams the same scripted replies as harness/fake_ollama.py, holds each request
a fixed time if asked, and counts the requests in flight (for the parallel bench).

Dialects, as those servers behave where the studio depends on it:
- lmstudio: response_format must be json_schema (json_object is refused with HTTP 400);
  no route tells the context.
- koboldcpp: models are listed as koboldcpp/NAME; /api/v1/config/max_context_length gives the
  context, and a longer prompt loses its beginning without a word.
- llamacpp: /props gives the per-slot context and the number of slots.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.fake_ollama import scripted_reply

MODEL_IDS = {"lmstudio": "smollm2-135m-instruct", "koboldcpp": "koboldcpp/SmolLM2", "llamacpp": "m"}


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, dialect: str, context: int = 4096, slots: int = 4, hold_s: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dialect = dialect
        self.model_id = MODEL_IDS[dialect]
        self.context = context
        self.slots = slots
        self.hold_s = hold_s  # each chat request takes at least this long
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.shutdown()
        self.server_close()

    def begin(self, body: dict) -> dict:
        tokens = "".join(f"<{m['role']}> {m['content']}\n" for m in body["messages"]).split()
        record = {
            "body": body,
            "prompt_tokens": len(tokens),
            "cut": self.dialect == "koboldcpp" and len(tokens) > self.context,
        }
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            record["number"] = len(self.requests)
            self.requests.append(record)
        return record

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _schema(body: dict) -> dict | None:
    shape = body.get("response_format") or {}
    if shape.get("type") == "json_schema":
        return shape["json_schema"]["schema"]
    return shape.get("schema")


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, *_args) -> None:
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        server = self.server
        if self.path == "/v1/models":
            return self._json(200, {"object": "list", "data": [{"id": server.model_id}]})
        if self.path == "/api/v1/config/max_context_length" and server.dialect == "koboldcpp":
            return self._json(200, {"value": server.context})
        if self.path == "/props" and server.dialect == "llamacpp":
            settings = {"n_ctx": server.context}
            return self._json(
                200, {"default_generation_settings": settings, "total_slots": server.slots}
            )
        self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": "not found"}})
        shape = (body.get("response_format") or {}).get("type")
        if self.server.dialect == "lmstudio" and shape not in (None, "json_schema", "text"):
            message = "'response_format.type' must be 'json_schema' or 'text'"
            return self._json(400, {"error": {"message": message}})
        record = self.server.begin(body)
        try:
            started = time.perf_counter()
            reply = scripted_reply(
                {"messages": body["messages"], "format": _schema(body)}, record["number"]
            )
            words = reply.split()[: int(body.get("max_tokens") or 10**9)]
            time.sleep(max(0.0, self.server.hold_s - (time.perf_counter() - started)))
            self._stream(body, words, record["prompt_tokens"])
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.server.end()

    def _stream(self, body: dict, words: list[str], prompt_tokens: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, word in enumerate(words):
            delta = {"content": word if i == 0 else " " + word}
            self._event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(words),
                "total_tokens": prompt_tokens + len(words),
            }
            self._event({"choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, chunk: dict) -> None:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", **chunk}
        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.flush()
