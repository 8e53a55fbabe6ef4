"""Ollama through its native API (/api/tags, /api/show, /api/chat), never its OpenAI route.

Why native: Ollama loads a model with a small default context (2,048 to 4,096 tokens) and cuts a
longer prompt from the front without a word, so an AgentWrite prompt loses its instruction and
plan first. Here `options.num_ctx` is set on every request from the model's trained length
(capped by the memory check when Ollama runs on this machine), and each prompt is counted
against it before it is sent, so the engine's own trimming applies instead of Ollama's cut.

Ollama has no tokenizer endpoint, so prompts are counted with a deliberately generous estimate
(it must never be below the real count). Ollama keeps the last prompt's KV cache; its
`prompt_eval_count` (tokens actually evaluated) and `eval_count` go into Usage.

A project stores the server as base_url "ollama+http://HOST:PORT", so resume and the studio
reopen the same backend through open_backend.
"""

import ipaddress
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from engine.errors import UserError
from engine.models import hardware
from engine.models.backends.base import ChatRequest, Usage
from engine.models.discovery import ModelInfo, info_from_metadata
from engine.models.load_plan import MAX_DEFAULT_CONTEXT, plan_load
from engine.models.settings import LoadSettings

log = logging.getLogger(__name__)

DEFAULT_HOST = "http://127.0.0.1:11434"
SCHEME_PREFIX = "ollama+"  # base_url "ollama+http://127.0.0.1:11434" means this backend
KEEP_ALIVE = "30m"  # keep the model loaded while the writer reads and edits between requests
# Latin text: about 4 characters a token in current tokenizers; 3 errs on the high side until
# the model's own replies tell (see OllamaBackend._calibrate).
CHARS_PER_TOKEN = 3.0
MIN_CHARS_PER_TOKEN, MAX_CHARS_PER_TOKEN = 2.0, 5.0
CALIBRATION_MARGIN = 0.85
MIN_CALIBRATION_TOKENS = 64
MESSAGE_OVERHEAD = 8  # role markers and separators of one message in a chat template
MIN_ROOM = 16


def ollama_host() -> str:
    """OLLAMA_HOST as Ollama's own tools read it: scheme and port optional; the default
    http://127.0.0.1:11434. A listen-everywhere address is reached on this machine."""
    raw = os.environ.get("OLLAMA_HOST", "").strip().rstrip("/")
    if not raw:
        return DEFAULT_HOST
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 11434)
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}{parts.path}"


def ollama_base_url(host: str | None = None) -> str:
    """The base_url a project stores for Ollama at host (default: OLLAMA_HOST)."""
    return SCHEME_PREFIX + (host or ollama_host())


def is_ollama_url(base_url: str | None) -> bool:
    return bool(base_url) and base_url.startswith(SCHEME_PREFIX)


def _is_this_machine(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tokens_estimate(text: str, chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """A count meant to be at least the model's: one token per CJK character, one per
    chars_per_token other characters."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide + math.ceil((len(text) - wide) / chars_per_token)


class OllamaBackend:
    """A model served by Ollama; one request at a time per instance."""

    supports_prefill = False

    def __init__(self, host: str, model: str, n_ctx: int | None = None):
        self.host = host.rstrip("/")
        self.client = httpx.Client(base_url=self.host, timeout=httpx.Timeout(600, connect=5))
        self.model = model  # as asked, until Ollama's list gives its full name
        self._sizes = self._listed_sizes()
        self.model = self._served_name(model)
        model_info = self._model_info(self._post("/api/show", {"model": self.model}).json())
        self.num_ctx = self._choose_context(model_info, n_ctx)
        self.info = replace(model_info, context_length=self.num_ctx, path=self.host)
        self.last_usage = Usage()
        self._chars_per_token, self._calibrated = CHARS_PER_TOKEN, False

    @classmethod
    def from_base_url(cls, base_url: str, model: str | None, n_ctx: int | None = None):
        if not model:
            raise UserError(key="error.ollama_needs_model")
        return cls(base_url.removeprefix(SCHEME_PREFIX), model, n_ctx)

    # -- opening ---------------------------------------------------------------------------
    def _get(self, path: str) -> httpx.Response:
        try:
            response = self.client.get(path)
        except httpx.HTTPError:
            raise UserError(key="error.ollama_unreachable", url=self.host) from None
        return self._checked(response)

    def _post(self, path: str, body: dict) -> httpx.Response:
        try:
            response = self.client.post(path, json=body)
        except httpx.HTTPError:
            raise UserError(key="error.ollama_unreachable", url=self.host) from None
        return self._checked(response)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.status_code == 404:
            raise self._unknown_model()
        if response.status_code >= 400:
            raise UserError(key="error.ollama_error", url=self.host, problem=_problem(response))
        return response

    def _listed_sizes(self) -> dict[str, int]:
        """Every model Ollama has, with its file size."""
        models = self._get("/api/tags").json().get("models") or []
        return {m.get("name") or m.get("model"): int(m.get("size") or 0) for m in models}

    def _served_name(self, model: str) -> str:
        """The model's name as Ollama lists it ("qwen2.5" is "qwen2.5:latest")."""
        for name in (model, f"{model}:latest"):
            if name in self._sizes:
                return name
        raise self._unknown_model()

    def _unknown_model(self) -> UserError:
        if self._pull_in_progress():
            return UserError(key="error.ollama_pulling", model=self.model)
        served = ", ".join(sorted(getattr(self, "_sizes", None) or {})) or "none"
        return UserError(
            key="error.ollama_unknown_model", url=self.host, model=self.model, served=served
        )

    def _pull_in_progress(self) -> bool:
        """Ollama writes a pull's blobs as sha256-…-partial files until it finishes; seen only
        when Ollama runs on this machine."""
        if not _is_this_machine(self.host):
            return False
        from engine.models.local_stores import ollama_models_dir

        blobs = ollama_models_dir() / "blobs"
        return blobs.is_dir() and any(blobs.glob("*-partial*"))

    def _model_info(self, shown: dict) -> ModelInfo:
        """ModelInfo from /api/show: the GGUF's own metadata keys, as llama.cpp reads them."""
        metadata = {k: str(v) for k, v in (shown.get("model_info") or {}).items()}
        details = shown.get("details") or {}
        architecture = metadata.get("general.architecture", "")
        trained = int(metadata.get(f"{architecture}.context_length", 0) or 0)
        info = info_from_metadata(metadata, None, trained or 4096)
        return replace(
            info,
            name=self.model,
            quantization=details.get("quantization_level") or info.quantization,
            chat_template=shown.get("template"),
            file_bytes=self._sizes.get(self.model, 0),  # the memory check's weights
        )

    def _choose_context(self, info: ModelInfo, requested: int | None) -> int:
        """num_ctx: the context asked for, else the trained length capped at
        MAX_DEFAULT_CONTEXT and, when Ollama runs here, by what fits in free memory."""
        if not _is_this_machine(self.host) or not info.n_layers:
            n_ctx = min(requested or MAX_DEFAULT_CONTEXT, info.context_length)
            log.info(f"Ollama model {self.model}; context {n_ctx:,} tokens (num_ctx).")
            return n_ctx
        placement = plan_load(
            info,
            LoadSettings(n_ctx=requested, kv_cache="f16"),
            hardware.free_ram_bytes(),
            hardware.gpus(),
            hardware.free_vram_bytes(),
        )
        log.info(
            f"Ollama model {self.model}; context {placement.n_ctx:,} tokens (num_ctx)"
            f"{placement.context_note}."
        )
        return placement.n_ctx

    # -- the Backend protocol --------------------------------------------------------------
    def count_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> int:
        text = "".join(m["content"] for m in messages) + prefill
        return self.count_text_tokens(text) + MESSAGE_OVERHEAD * (len(messages) + 1)

    def count_text_tokens(self, text: str) -> int:
        return _tokens_estimate(text, self._chars_per_token)

    def _calibrate(self, reply: str, tokens: int) -> None:
        """Learn this model's characters per token from its own replies (Ollama counts their
        tokens), keeping the smallest seen less a margin, so estimates stay on the high side."""
        wide = sum(1 for ch in reply if ord(ch) >= 0x2E80)
        if tokens - wide < MIN_CALIBRATION_TOKENS:
            return
        observed = (len(reply) - wide) / (tokens - wide) * CALIBRATION_MARGIN
        observed = min(max(observed, MIN_CHARS_PER_TOKEN), MAX_CHARS_PER_TOKEN)
        if self._calibrated:
            observed = min(observed, self._chars_per_token)
        self._chars_per_token, self._calibrated = observed, True

    def stream(self, request: ChatRequest) -> Iterator[str]:
        if request.prefill:
            raise ValueError("Ollama's chat API cannot continue a prefilled reply")
        counted = self.count_tokens(request.messages)
        room = self.num_ctx - counted
        if room < MIN_ROOM:
            # Sending it would let Ollama cut the prompt's beginning: the instruction.
            raise UserError(key="error.prompt_too_long", tokens=counted, context=self.num_ctx)
        body = {
            "model": self.model,
            "messages": request.messages,
            "stream": True,
            "keep_alive": KEEP_ALIVE,
            "options": self._options(request, min(request.max_tokens, room)),
        }
        if request.json_schema is not None:
            body["format"] = request.json_schema
        # Ollama gives its counts on the last line; a reply stopped early keeps these estimates.
        usage = Usage(prompt_tokens_sent=counted, prompt_tokens_evaluated=counted)
        self.last_usage = usage
        started = time.perf_counter()
        first = None
        try:
            with self.client.stream("POST", "/api/chat", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._checked(response)
                # Each piece is passed on once the next line is read, so the final line's
                # counts are in last_usage when the caller sees the reply's last piece (and
                # stops reading there, as the writer does at the end of a section).
                pending, received = "", []
                for part in self._parts(response):
                    text = (part.get("message") or {}).get("content", "")
                    received.append(text)
                    if part.get("done"):
                        self._read_counts(part, usage)
                        self._calibrate("".join(received), usage.output_tokens)
                    if pending:
                        yield pending
                    if text:
                        first = first or time.perf_counter()
                        if not part.get("done"):
                            usage.output_tokens += 1  # until the final line gives the count
                    pending = text
                if pending:
                    yield pending
        except httpx.HTTPError:
            raise UserError(key="error.server_stopped") from None
        finally:
            ended = time.perf_counter()
            if not usage.decode_s:
                usage.prompt_s = (first or ended) - started
                usage.decode_s = ended - (first or ended)

    def _parts(self, response: httpx.Response) -> Iterator[dict]:
        """The NDJSON lines of a streamed reply; an error line becomes a UserError."""
        for line in response.iter_lines():
            if not line.strip():
                continue
            part = json.loads(line)
            if "error" in part:
                raise UserError(key="error.ollama_error", url=self.host, problem=part["error"])
            yield part

    def _options(self, request: ChatRequest, num_predict: int) -> dict:
        sampling = request.sampling
        options = {
            "num_ctx": self.num_ctx,
            "num_predict": num_predict,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k,
            "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
            "frequency_penalty": sampling.frequency_penalty,
            "presence_penalty": sampling.presence_penalty,
        }
        if sampling.seed is not None:
            options["seed"] = sampling.seed
        if request.stop:
            options["stop"] = request.stop
        return options

    @staticmethod
    def _read_counts(final: dict, usage: Usage) -> None:
        """The last NDJSON line's counts: evaluated prompt tokens (after Ollama's cache), reply
        tokens, and the server's own timings in nanoseconds."""
        if "prompt_eval_count" in final:
            usage.prompt_tokens_evaluated = int(final["prompt_eval_count"])
        if "eval_count" in final:
            usage.output_tokens = int(final["eval_count"])
        if final.get("eval_duration"):
            usage.prompt_s = int(final.get("prompt_eval_duration") or 0) / 1e9
            usage.decode_s = int(final["eval_duration"]) / 1e9

    def close(self) -> None:
        self.client.close()


def _problem(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)
    except ValueError:
        return response.text.strip()[:200] or f"HTTP {response.status_code}"
