"""A local stand-in for Ollama's native API (/api/tags, /api/show, /api/chat), 127.0.0.1 only.

It behaves as Ollama does where the studio depends on it: /api/chat streams NDJSON and ends
with prompt_eval_count and eval_count; a prompt cache counts only the tokens after the prefix
shared with the last request (prompt and reply) as evaluated; and without options.num_ctx the
context is 2,048 tokens, a longer prompt losing its beginning without a word. Tokens are
whitespace-separated words. Replies are scripted prose of the length the prompt asks for, and
a request with a `format` schema gets a plan that fits it.
"""

import json
import math
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CONTEXT = 2048
_WORDS = (
    "harbour lantern quiet morning river stone letter garden window silver station winter "
    "orchard bridge candle forest meadow tower ribbon engine violin compass island valley "
    "market chapel mirror thunder feather ladder blanket pepper copper kettle saddle cellar"
).split()


def prose(words: int, seed: int) -> str:
    """`words` words of sentences drawn at random: two replies (or two parts of one) share no
    8-word run, so the engine's loop detector stays quiet."""
    pick = random.Random(seed).choice
    out = [pick(_WORDS) + ("." if i % 9 == 8 else "") for i in range(words)]
    text = " ".join(out).rstrip(".")
    return text[:1].upper() + text[1:] + "."


def model_card(context_length: int, size_bytes: int = 300_000_000) -> dict:
    """What /api/show says of a small llama-architecture model."""
    return {
        "model_info": {
            "general.architecture": "llama",
            "llama.context_length": context_length,
            "llama.block_count": 8,
            "llama.attention.head_count": 8,
            "llama.attention.head_count_kv": 2,
            "llama.embedding_length": 512,
        },
        "details": {"quantization_level": "Q4_K_M", "family": "llama"},
        "template": "{{ .Prompt }}",
        "size": size_bytes,
    }


class FakeOllama(ThreadingHTTPServer):
    """Serves the models named in `models` (name -> trained context length)."""

    daemon_threads = True

    def __init__(self, models: dict[str, int] | None = None, word_delay_s: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.models = {name: model_card(ctx) for name, ctx in (models or {}).items()}
        self.word_delay_s = word_delay_s
        self.requests: list[dict] = []  # one record per /api/chat request
        self._cache: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "FakeOllama":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.shutdown()
        self.server_close()

    def chat(self, body: dict) -> tuple[dict, list[str]]:
        """The record of one request and the reply's words (the model 'runs' under a lock)."""
        options = body.get("options") or {}
        num_ctx = int(options.get("num_ctx") or DEFAULT_CONTEXT)
        tokens = "".join(f"<{m['role']}> {m['content']}\n" for m in body["messages"]).split()
        cut = len(tokens) > num_ctx
        kept = tokens[-num_ctx:] if cut else tokens  # Ollama's silent cut from the front
        with self._lock:
            shared = 0
            for a, b in zip(kept, self._cache, strict=False):
                if a != b:
                    break
                shared += 1
            reply = scripted_reply(body, len(self.requests)).split()
            limit = int(options.get("num_predict") or 10**9)
            reply = reply[: max(0, min(limit, num_ctx - len(kept)))]
            self._cache = kept + reply
            record = {
                "messages": body["messages"],
                "options": options,
                "format": body.get("format"),
                "keep_alive": body.get("keep_alive"),
                "prompt_tokens": len(tokens),
                "cut": cut,
                "seen": " ".join(kept),  # what the model was left with
                "prompt_eval_count": max(1, len(kept) - shared),
                "eval_count": len(reply),
            }
            self.requests.append(record)
        return record, reply


def scripted_reply(body: dict, number: int) -> str:
    """The reply to a chat body: a plan fitting its `format` schema, else prose of the length
    the last message asks for."""
    asked = body["messages"][-1]["content"]
    if body.get("format"):
        return json.dumps(_plan(body["format"], asked))
    if "one sentence" in asked:
        return prose(20, seed=number)
    lengths = re.findall(r"about ([\d,]+) (?:more )?words", asked)
    words = int(lengths[-1].replace(",", "")) if lengths else 50
    return prose(words, seed=number)


def _plan(schema: dict, asked: str) -> dict:
    """Rows that fit the schema and add up to the total the prompt names (or, for a schema of
    plain strings such as a drafted title, a short title in each)."""
    key, rows = next(iter(schema["properties"].items()))
    if rows.get("type") != "array":
        return {name: "The Keeper of the Light" for name in schema["properties"]}
    fields = [f for f in rows["items"]["properties"] if f not in ("title", "words")]
    totals = re.findall(r"about ([\d,]+) words", asked)
    total = int(totals[-1].replace(",", "")) if totals else 1000
    count = min(max(math.ceil(total / 450), rows.get("minItems", 1)), rows.get("maxItems", 99))
    return {
        key: [
            {
                "title": f"Part {i + 1}",
                **{f: f"Something new happens in part {i + 1}." for f in fields},
                "words": total // count,
            }
            for i in range(count)
        ]
    }


class _Handler(BaseHTTPRequestHandler):
    server: FakeOllama

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
        if self.path != "/api/tags":
            return self._json(404, {"error": "not found"})
        models = [
            {"name": n, "model": n, "size": card["size"], "details": card["details"]}
            for n, card in self.server.models.items()
        ]
        self._json(200, {"models": models})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        card = self.server.models.get(body.get("model") or body.get("name"))
        if card is None:
            return self._json(404, {"error": f"model '{body.get('model')}' not found"})
        if self.path == "/api/show":
            return self._json(200, card)
        if self.path != "/api/chat":
            return self._json(404, {"error": "not found"})
        record, reply = self.server.chat(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        try:
            self._stream(record, reply)
        except (BrokenPipeError, ConnectionResetError):
            record["stopped_early"] = True  # the client stopped reading, as Ollama allows

    def _stream(self, record: dict, reply: list[str]) -> None:
        for i, word in enumerate(reply):
            if self.server.word_delay_s:
                time.sleep(self.server.word_delay_s)
            piece = word if i == 0 else " " + word
            self._line({"message": {"role": "assistant", "content": piece}, "done": False})
        final = {
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": record["prompt_eval_count"],
            "eval_count": record["eval_count"],
            "prompt_eval_duration": 1_000_000,
            "eval_duration": 1_000_000 * max(1, record["eval_count"]),
        }
        self._line(final)

    def _line(self, part: dict) -> None:
        self.wfile.write(json.dumps(part).encode() + b"\n")
        self.wfile.flush()
