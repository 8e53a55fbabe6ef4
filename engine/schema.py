"""Pydantic models at the engine's boundaries: plans, settings, projects and run statistics."""

import json
import secrets
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

MAX_TOTAL_WORDS = 200_000
MAX_SECTION_WORDS = 10_000
MAX_SECTIONS = 60  # rows of a flat plan
MAX_CHAPTERS = 100
MAX_SCENES_PER_CHAPTER = 30
MAX_CHAPTER_WORDS = 20_000
MAX_INSTRUCTION_CHARS = 20_000
MAX_BIBLE_CHARS = 60_000
MAX_STYLE_SAMPLE_CHARS = 3_000

Mode = Literal["agentwrite", "single"]
SECTION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


def new_section_id() -> str:
    """A short random id; a plan row and every version of its text share it for good."""
    return "s" + secrets.token_hex(4)


def new_chapter_id() -> str:
    """A chapter's id; its scenes name it, and its recap is stored under it."""
    return "c" + secrets.token_hex(4)


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class PlanSection(BaseModel):
    """One row of a plan: what the section says and how long it should be.

    `id` ties the row to its written text: inserting, moving or deleting other rows never moves
    text onto the wrong row. Rows without an id (a hand-written plan file) get a fresh one.
    `heading` False keeps the title out of exports (an imported scene that had no heading).
    In a two-level plan every row is a scene and `chapter` is the id of its chapter.
    """

    id: str = Field(default_factory=new_section_id, pattern=SECTION_ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    main_point: str = Field(min_length=1, max_length=4_000)
    words: int = Field(ge=1, le=MAX_SECTION_WORDS)
    locked: bool = False
    heading: bool = True
    chapter: str | None = Field(None, pattern=SECTION_ID_PATTERN)

    _blank = field_validator("title", "main_point")(_not_blank)


class Chapter(BaseModel):
    """A chapter of a two-level plan: what it is about and how long it should be. Its scenes are
    the plan rows that name its id; a chapter without scenes gets them drafted when reached."""

    id: str = Field(default_factory=new_chapter_id, pattern=SECTION_ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=4_000)
    words: int = Field(ge=1, le=MAX_CHAPTER_WORDS)
    locked: bool = False

    _blank = field_validator("title", "summary")(_not_blank)


def _nest_scenes(data: object) -> object:
    """Accept the hand-written two-level form, chapters holding their `scenes`, by moving the
    scenes into the flat row list with their chapter's id."""
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), list):
        return data
    chapters, sections = [], list(data.get("sections") or [])
    for number, chapter in enumerate(data["chapters"]):
        if isinstance(chapter, dict) and "scenes" in chapter:
            if not isinstance(chapter["scenes"], list | None):
                raise ValueError(f"chapter {number + 1}'s scenes must be a list")
            chapter = dict(chapter)
            chapter.setdefault("id", new_chapter_id())
            for scene in chapter.pop("scenes") or []:
                sections.append(
                    {**scene, "chapter": chapter["id"]} if isinstance(scene, dict) else scene
                )
        chapters.append(chapter)
    return {**data, "chapters": chapters, "sections": sections}


class Plan(BaseModel):
    """The rows the writer edits, saves and writes from, in order.

    A flat plan is a list of sections. A two-level plan is a list of chapters; its rows are the
    scenes, grouped by chapter in chapter order (a chapter may have none yet).
    """

    chapters: list[Chapter] = Field(default_factory=list, max_length=MAX_CHAPTERS)
    sections: list[PlanSection] = Field(default_factory=list)

    _nested = model_validator(mode="before")(_nest_scenes)

    @model_validator(mode="after")
    def _consistent(self) -> "Plan":
        ids = [section.id for section in self.sections] + [c.id for c in self.chapters]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"id {duplicate!r} is used twice; ids must be unique")
        if not self.chapters:
            if not 1 <= len(self.sections) <= MAX_SECTIONS:
                raise ValueError(f"a plan has 1 to {MAX_SECTIONS} sections")
            if any(section.chapter for section in self.sections):
                raise ValueError("a section names a chapter, but the plan has no chapters")
            return self
        order = {chapter.id: i for i, chapter in enumerate(self.chapters)}
        positions = []
        for section in self.sections:
            if section.chapter not in order:
                raise ValueError(f"scene {section.title!r} names no chapter of the plan")
            positions.append(order[section.chapter])
        if positions != sorted(positions):
            raise ValueError("scenes must be grouped by chapter, in chapter order")
        for chapter in self.chapters:
            if positions.count(order[chapter.id]) > MAX_SCENES_PER_CHAPTER:
                raise ValueError(
                    f"chapter {chapter.title!r} has more than {MAX_SCENES_PER_CHAPTER} scenes"
                )
        return self

    @property
    def two_level(self) -> bool:
        return bool(self.chapters)

    @property
    def total_words(self) -> int:
        if not self.chapters:
            return sum(section.words for section in self.sections)
        return sum(self.chapter_words(chapter) for chapter in self.chapters)

    def scenes(self, chapter_id: str) -> list[PlanSection]:
        return [section for section in self.sections if section.chapter == chapter_id]

    def scene_range(self, chapter_id: str) -> range:
        """The row positions of a chapter's scenes (empty, at the right place, if it has none)."""
        start = 0
        for chapter in self.chapters:
            count = sum(1 for section in self.sections if section.chapter == chapter.id)
            if chapter.id == chapter_id:
                return range(start, start + count)
            start += count
        raise KeyError(chapter_id)

    def chapter_words(self, chapter: "Chapter") -> int:
        """A chapter's length: its scenes' words once it has scenes, its own target before."""
        scenes = self.scenes(chapter.id)
        return sum(scene.words for scene in scenes) if scenes else chapter.words

    def chapter_of(self, index: int) -> "Chapter | None":
        """The chapter of row `index` (None in a flat plan)."""
        chapter_id = self.sections[index].chapter
        return next((c for c in self.chapters if c.id == chapter_id), None)

    def chapter_index(self, chapter_id: str) -> int:
        return next(i for i, chapter in enumerate(self.chapters) if chapter.id == chapter_id)

    def file_json(self) -> str:
        """The plan as a writer edits it by hand: a two-level plan nests scenes in chapters."""
        if not self.chapters:
            exclude = {"chapters": True, "sections": {"__all__": {"chapter"}}}
            return self.model_dump_json(indent=2, exclude=exclude)
        chapters = [
            {
                **chapter.model_dump(),
                "scenes": [s.model_dump(exclude={"chapter"}) for s in self.scenes(chapter.id)],
            }
            for chapter in self.chapters
        ]
        return json.dumps({"chapters": chapters}, indent=2, ensure_ascii=False)

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


StylePreset = Literal[
    "first_person", "third_person", "past", "present", "literary", "plain", "dialogue"
]


class WriteSettings(BaseModel):
    """How a piece is written: mode, sampling, length control, repetition countermeasures and
    style (presets, and a sample of the writer's own prose every section sees)."""

    mode: Mode = "agentwrite"
    sampling: SamplingSettings = SamplingSettings()
    fight_repetition: bool = True
    max_retries: int = Field(2, ge=0, le=5)
    section_headings: bool = True
    style: list[StylePreset] = []
    style_sample: str = Field("", max_length=MAX_STYLE_SAMPLE_CHARS)


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
    voice: str = ""  # the voice (LoRA adapter file) the model wrote with, if any
    voice_scale: float | None = None
    # a two-level plan's extra requests: scenes drafted for chapters, chapter recaps
    scene_plans: int = 0
    scene_plan_output_tokens: int = 0
    scene_plan_prompt_tokens_evaluated: int = 0
    recaps: int = 0
    recap_output_tokens: int = 0
    recap_prompt_tokens_evaluated: int = 0
    per_section: list[SectionStats] = []
