"""The one protocol every model backend implements, and the request/usage records it speaks."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from engine.models.discovery import ModelInfo
from engine.schema import SamplingSettings


@dataclass
class ChatRequest:
    """One generation: chat messages in, streamed text out.

    `prefill` is assistant text the reply must continue (a resumed or extended section); a
    backend that cannot continue a reply says so with `supports_prefill = False`.
    `keep_going` is asked before each token; while it returns True the backend must not end the
    reply (end-of-turn tokens are banned), which is how short sections are extended.
    `no_repeat_ngram` > 0 forbids repeating any token sequence of that length already in the
    context (local backends; servers rely on their repetition penalties); with
    `no_repeat_reply_only` it covers only the reply (a revision keeps many of its source's
    sentences, and the source is in the prompt).
    """

    messages: list[dict[str, str]]
    max_tokens: int
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    prefill: str = ""
    json_schema: dict | None = None
    stop: list[str] = field(default_factory=list)
    keep_going: Callable[[], bool] | None = None
    min_tokens: int = 0
    no_repeat_ngram: int = 0
    no_repeat_reply_only: bool = False


@dataclass
class Usage:
    """Token and time accounting of the last request."""

    prompt_tokens_sent: int = 0
    prompt_tokens_evaluated: int = 0
    output_tokens: int = 0
    prompt_s: float = 0.0
    decode_s: float = 0.0

    def __add__(self, other: "Usage") -> "Usage":
        """Two requests' accounting together (a plan and the title drafted with it)."""
        return Usage(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__)
        )


class Backend(Protocol):
    """A model that streams chat replies. One request at a time per instance."""

    info: ModelInfo
    supports_prefill: bool
    last_usage: Usage

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the reply as text chunks; closing the iterator stops generation."""
        ...

    def count_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> int:
        """Prompt tokens these messages (and an assistant prefill) take in this model."""
        ...

    def count_text_tokens(self, text: str) -> int:
        """Tokens a piece of plain text takes in this model."""
        ...

    def close(self) -> None: ...
