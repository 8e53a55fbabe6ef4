"""Pydantic models at the engine's boundaries: plans, settings, projects and run statistics."""

import secrets
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

MAX_TOTAL_WORDS = 100_000
MAX_SECTION_WORDS = 10_000
MAX_SECTIONS = 60
MAX_INSTRUCTION_CHARS = 20_000
MAX_BIBLE_CHARS = 20_000

Mode = Literal["agentwrite", "single"]
SECTION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


def new_section_id() -> str:
    """A short random id; a plan row and every version of its text share it for good."""
    return "s" + secrets.token_hex(4)


class PlanSection(BaseModel):
    """One row of a plan: what the section says and how long it should be.

    `id` ties the row to its written text: inserting, moving or deleting other rows never moves
    text onto the wrong row. Rows without an id (a hand-written plan file) get a fresh one.
    `heading` False keeps the title out of exports (an imported scene that had no heading).
    """

    id: str = Field(default_factory=new_section_id, pattern=SECTION_ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    main_point: str = Field(min_length=1, max_length=4_000)
    words: int = Field(ge=1, le=MAX_SECTION_WORDS)
    locked: bool = False
    heading: bool = True

    @field_validator("title", "main_point")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class Plan(BaseModel):
    """An ordered list of sections; the unit the writer edits, saves and writes from."""

    sections: list[PlanSection] = Field(min_length=1, max_length=MAX_SECTIONS)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Plan":
        ids = [section.id for section in self.sections]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"section id {duplicate!r} is used by two rows; ids must be unique")
        return self

    @property
    def total_words(self) -> int:
        return sum(section.words for section in self.sections)

    @property
    def ids(self) -> list[str]:
        return [section.id for section in self.sections]

    def position(self, section_id: str) -> int | None:
        """The 0-based row of the section with this id, or None if the plan has no such row."""
        return next((i for i, s in enumerate(self.sections) if s.id == section_id), None)


class SamplingSettings(BaseModel):
    """Sampler settings passed to a backend; the defaults suit small local models."""

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    min_p: float = Field(0.05, ge=0.0, le=1.0)
    top_k: int = Field(40, ge=0)
    repeat_penalty: float = Field(1.1, ge=1.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=0.0, le=2.0)
    presence_penalty: float = Field(0.0, ge=0.0, le=2.0)
    seed: int | None = None


class WriteSettings(BaseModel):
    """How a piece is written: mode, sampling, length control and repetition countermeasures."""

    mode: Mode = "agentwrite"
    sampling: SamplingSettings = SamplingSettings()
    fight_repetition: bool = True
    max_retries: int = Field(2, ge=0, le=5)
    section_headings: bool = True


class ModelSpec(BaseModel):
    """Which model a project is written with: a GGUF path, or an OpenAI-compatible server."""

    model_path: str | None = None
    base_url: str | None = None
    model_name: str | None = None
    n_ctx: int | None = None


class SectionStats(BaseModel):
    index: int
    target_words: int
    words: int
    length_score: float
    output_tokens: int
    prompt_tokens_sent: int
    prompt_tokens_evaluated: int
    retries: int = 0
    repeated_8gram_share: float = 0.0
    decode_s: float = 0.0


class RunStats(BaseModel):
    """What `--stats-json` writes: length, cost and speed of one writing run."""

    words: int
    target_words: int
    length_score: float
    sections: int
    output_tokens: int
    prompt_tokens_sent: int
    prompt_tokens_evaluated: int
    first_prompt_tokens: int
    wall_s: float
    decode_tokens_per_s: float
    repeated_8gram_share: float
    retries: int
    context_trims: int
    mode: Mode
    model: str
    device: str = "CPU"  # where the layers ran: "CPU", "CUDA0", "Metal"..., or "server"
    gpu_layers_offloaded: int = 0
    per_section: list[SectionStats] = []
