"""The one scripted fake model for fast, deterministic tests (and the studio streaming bench).

It speaks the engine's Backend protocol: replies come from a script (a list of texts, or a
function of the request), stream one word per token, honour max_tokens and prefill, and count
prompt tokens the way llama.cpp's prefix cache does (only the part that differs from the last
prompt is "evaluated"), so prefix reuse is testable without a model.
"""

import itertools
import time
from collections.abc import Callable, Iterable, Iterator

from engine.models.backends.base import ChatRequest, Usage
from engine.models.discovery import ModelInfo

Script = Iterable[str] | Callable[[ChatRequest], str]

_WORDS = (
    "harbour lantern quiet morning river stone letter garden window silver station winter "
    "orchard bridge candle forest meadow tower ribbon engine violin compass island valley "
    "market chapel mirror thunder feather ladder blanket pepper copper kettle saddle cellar"
).split()


def prose(words: int, seed: int = 0) -> str:
    """`words` words of plain sentences that never repeat an 8-word run (the loop detector
    stays quiet), ending with a full stop."""
    pairs = itertools.islice(itertools.product(_WORDS, repeat=2), seed * 997 % 1000, None)
    out: list[str] = []
    for count, (a, b) in enumerate(itertools.cycle(pairs)):
        if len(out) >= words:
            break
        out.append(f"{a}-{b}" + ("." if count % 9 == 8 else ""))
    text = " ".join(out[:words]).rstrip(".")
    return text[:1].upper() + text[1:] + "."


class FakeBackend:
    """Replies with scripted texts in turn (empty replies once a list runs out); records every
    request."""

    supports_prefill = True

    def __init__(
        self,
        script: Script = (),
        context_length: int = 8192,
        rate: float | None = None,
        name: str = "fake",
    ):
        if callable(script):
            self._reply = script
        else:
            replies = iter(script)
            self._reply = lambda request: next(replies, "")  # then empty replies
        self.requests: list[ChatRequest] = []
        self.rate = rate  # words per second, or as fast as possible
        self.info = ModelInfo(name, context_length, "none", name, None)
        self.last_usage = Usage()
        self._cached: list[str] = []

    def stream(self, request: ChatRequest) -> Iterator[str]:
        self.requests.append(request)
        reply = self._reply(request)
        prompt = self._prompt_tokens(request.messages, request.prefill)
        shared = next(
            (i for i, (a, b) in enumerate(zip(prompt, self._cached, strict=False)) if a != b),
            min(len(prompt), len(self._cached)),
        )
        usage = Usage(prompt_tokens_sent=len(prompt), prompt_tokens_evaluated=len(prompt) - shared)
        self.last_usage = usage
        self._cached = list(prompt)
        started = time.perf_counter()
        try:
            for word in self._chunks(reply)[: request.max_tokens]:
                if self.rate:
                    wait = started + (usage.output_tokens + 1) / self.rate - time.perf_counter()
                    time.sleep(max(wait, 0))
                usage.output_tokens += 1
                self._cached.append(word)
                self.on_token(usage.output_tokens)
                yield word
        finally:
            usage.decode_s = time.perf_counter() - started

    def on_token(self, count: int) -> None:
        """Called after every streamed token (the bench samples CPU time here)."""

    @staticmethod
    def _chunks(text: str) -> list[str]:
        pieces = text.split(" ")
        return [pieces[0], *(" " + piece for piece in pieces[1:])] if text else []

    def _prompt_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> list[str]:
        text = "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>" + prefill
        return text.split()

    def count_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> int:
        return len(self._prompt_tokens(messages, prefill))

    def count_text_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass
