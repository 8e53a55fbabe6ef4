"""The quality judge: a model that marks an answer on six dimensions, as JSON checked by pydantic.

The judge's reply is constrained to the score schema where the backend can do that (llama.cpp
turns the schema into a grammar; OpenAI-compatible servers get it as `response_format`), read
leniently (the first JSON object in the reply), validated, and asked again when malformed. An
answer the judge still cannot score yields a Verdict with status "failed", its error and every
raw reply, so the run records it instead of dropping it.
"""

import json
from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, computed_field

from engine.errors import UserError
from engine.models.backends import Backend, ChatRequest, open_backend
from engine.models.settings import LoadSettings
from engine.schema import SamplingSettings

DIMENSIONS = (
    "relevance",
    "accuracy",
    "coherence",
    "clarity",
    "breadth_and_depth",
    "reading_experience",
)
MAX_REPLY_TOKENS = 120
ATTEMPTS = 3
GAP_MARK = "\n\n[...]\n\n"

Mark = Annotated[int, Field(ge=1, le=5)]


class QualityScores(BaseModel):
    """The six marks (1 to 5) and S_q: each mark mapped to (mark − 1) · 25, then averaged."""

    relevance: Mark
    accuracy: Mark
    coherence: Mark
    clarity: Mark
    breadth_and_depth: Mark
    reading_experience: Mark

    @computed_field
    @property
    def quality_score(self) -> float:
        """S_q in [0, 100]."""
        return sum((getattr(self, d) - 1) * 25 for d in DIMENSIONS) / len(DIMENSIONS)


class Verdict(BaseModel):
    """The outcome of judging one answer: scores, or the error and what the judge replied."""

    status: Literal["ok", "failed"]
    scores: QualityScores | None = None
    error: str | None = None
    raw_outputs: list[str] = []
    truncated: bool = False


class JudgeFailed(Exception):
    """The judge gave no valid scores in any attempt."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.error)
        self.verdict = verdict


def score_schema() -> dict:
    """JSON schema of the judge's reply: the six dimensions, integers 1 to 5, nothing else."""
    mark = {"type": "integer", "enum": [1, 2, 3, 4, 5]}
    return {
        "type": "object",
        "properties": {d: mark for d in DIMENSIONS},
        "required": list(DIMENSIONS),
        "additionalProperties": False,
    }


@cache
def prompt_template() -> str:
    return (files("assets") / "judge" / "quality.txt").read_text("utf-8").rstrip("\n")


def parse_scores(reply: str) -> QualityScores:
    """The scores in a judge's reply: its first {...} object, validated. Raises ValueError."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the reply holds no JSON object")
    try:
        data = json.loads(reply[start : end + 1])
    except json.JSONDecodeError as error:
        raise ValueError(f"the reply is not valid JSON ({error.msg})") from None
    try:
        return QualityScores.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "reply"
        raise ValueError(f"{where}: {first['msg']}") from None


def judge_name(
    base_url: str | None = None, model_name: str | None = None, gguf: str | None = None
) -> str:
    """How a judge given by these options is named in run records; checks the options."""
    if base_url and gguf:
        raise UserError(key="error.one_judge")
    if gguf:
        return f"gguf:{gguf}"
    if base_url:
        if not model_name:
            raise UserError(key="error.judge_needs_model")
        return f"{model_name}@{base_url}"
    raise UserError(key="error.no_judge")


class Judge:
    """Scores answers with one backend (a local GGUF or an OpenAI-compatible server)."""

    def __init__(self, backend: Backend, name: str, attempts: int = ATTEMPTS):
        self.backend = backend
        self.name = name
        self.attempts = attempts

    @classmethod
    def from_options(
        cls,
        base_url: str | None = None,
        model_name: str | None = None,
        gguf: str | None = None,
        load: LoadSettings | None = None,
    ) -> "Judge":
        """A judge on a server (base_url and model_name) or on a local GGUF file; a GGUF loads
        with load's GPU layers, KV cache, flash attention and threads, at its own context."""
        name = judge_name(base_url, model_name, gguf)
        if gguf:
            own = {
                "model_path": gguf,
                "base_url": None,
                "model_name": None,
                "n_ctx": None,
                "voice_path": None,
            }
            return cls(open_backend((load or LoadSettings()).model_copy(update=own)), name)
        return cls(open_backend(LoadSettings(base_url=base_url, model_name=model_name)), name)

    def score(self, instruction: str, response: str) -> QualityScores:
        """The six marks and S_q of a response to an instruction; raises JudgeFailed."""
        verdict = self.verdict(instruction, response)
        if verdict.scores is None:
            raise JudgeFailed(verdict)
        return verdict.scores

    def verdict(self, instruction: str, response: str) -> Verdict:
        """Judge a response, asking again on a malformed reply; never raises for a bad reply."""
        fitted = self._fit(instruction, response)
        if fitted is None:
            return Verdict(
                status="failed",
                error="the instruction alone fills the judge's context window; use a judge "
                "with a larger window",
            )
        shown, truncated = fitted
        messages = [{"role": "user", "content": self._prompt(instruction, shown)}]
        replies: list[str] = []
        error = ""
        for attempt in range(self.attempts):
            request = ChatRequest(
                messages=messages,
                max_tokens=MAX_REPLY_TOKENS,
                sampling=_sampling(attempt),
                json_schema=score_schema(),
            )
            reply = "".join(self.backend.stream(request))
            replies.append(reply)
            try:
                scores = parse_scores(reply)
            except ValueError as problem:
                error = str(problem)
                continue
            return Verdict(status="ok", scores=scores, raw_outputs=replies, truncated=truncated)
        return Verdict(
            status="failed",
            error=f"no valid scores in {self.attempts} replies; last problem: {error}",
            raw_outputs=replies,
            truncated=truncated,
        )

    @staticmethod
    def _prompt(instruction: str, response: str) -> str:
        return prompt_template().format(instruction=instruction.strip(), response=response.strip())

    def _fit(self, instruction: str, response: str) -> tuple[str, bool] | None:
        """The response, shortened in the middle if the prompt would not fit the judge's window
        (with True when shortened); None when even the instruction alone does not fit."""
        room = self.backend.info.context_length - MAX_REPLY_TOKENS - 16

        def tokens(text: str) -> int:
            return self.backend.count_tokens(
                [{"role": "user", "content": self._prompt(instruction, text)}]
            )

        if tokens(response) <= room:
            return response, False
        budget = room - tokens(GAP_MARK)
        if budget < 64:
            return None
        share = budget / max(self.backend.count_text_tokens(response), 1)
        while True:
            keep = int(len(response) * share)
            head, tail = response[: keep * 2 // 3], response[len(response) - keep // 3 :]
            shown = head + GAP_MARK + tail
            if tokens(shown) <= room or keep == 0:
                return shown, True
            share *= 0.9


def _sampling(attempt: int) -> SamplingSettings:
    """Greedy first; later attempts sample, so a malformed reply is not simply repeated."""
    if attempt == 0:
        return SamplingSettings(temperature=0.0, repeat_penalty=1.0, seed=0)
    return SamplingSettings(temperature=0.7, repeat_penalty=1.0, seed=attempt)
