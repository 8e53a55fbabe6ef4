"""Two-level plans for long pieces: chapters first, then each chapter's scenes when it is
reached (or all up front), and rescaling that keeps locked chapters and scenes."""

import math
from collections.abc import Iterator
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from engine.errors import UserError
from engine.models.backends.base import Backend
from engine.planning.plan import (
    MIN_SECTION_WORDS,
    check_request,
    clipped,
    draft_plan,
    draft_schema,
    json_rows,
    plan_from_model_output,
    plan_request,
    rescale,
    round_preserving_sum,
    rows_schema,
    section_bounds,
)
from engine.prompts import bible_block, language_of, render
from engine.schema import (
    MAX_CHAPTER_WORDS,
    MAX_CHAPTERS,
    MAX_SCENES_PER_CHAPTER,
    Chapter,
    Plan,
    PlanSection,
)
from engine.writing.prompt_layout import Brief, book_head

TWO_LEVEL_FROM_WORDS = 8_000  # longer pieces are planned as chapters of scenes
_WORDS_PER_CHAPTER_LOW = 1_500
_WORDS_PER_CHAPTER_HIGH = 2_500  # a chapter fits an 8k context with its recaps
_CHAPTER_TOKENS = {"en": 110, "zh": 260}
SCENE_PLAN_ATTEMPTS = 2
# drafted chapter lengths are kept within this share of the mean: a small model's counts can
# run from 200 to 4,500 words, and a chapter has to fit the context with its recaps
CHAPTER_SPREAD = (0.6, 1.4)


class _DraftChapter(BaseModel):
    title: Annotated[str, clipped(80), Field(min_length=1)]
    summary: Annotated[str, clipped(400), Field(min_length=1)]
    words: Annotated[int, BeforeValidator(lambda value: min(max(int(value), 1), 99_999))]


def two_level(total_words: int) -> bool:
    return total_words > TWO_LEVEL_FROM_WORDS


def chapter_bounds(total_words: int) -> tuple[int, int]:
    """How many chapters a book of this many words may have (fewest, most)."""
    fewest = max(2, math.ceil(total_words / _WORDS_PER_CHAPTER_HIGH))
    most = max(fewest, math.ceil(total_words / _WORDS_PER_CHAPTER_LOW))
    return min(fewest, MAX_CHAPTERS), min(most, MAX_CHAPTERS)


def chapters_schema(total_words: int) -> dict:
    return rows_schema("chapters", "summary", *chapter_bounds(total_words), MAX_CHAPTER_WORDS)


def draft_chapters_stream(
    backend: Backend, instruction: str, total_words: int, bible: str = "", seed: int | None = None
) -> Iterator[str]:
    """Stream the raw JSON of a drafted chapter list."""
    check_request(instruction, total_words)
    language = language_of(instruction)
    fewest, most = chapter_bounds(total_words)
    prompt = render(
        language,
        "plan_chapters",
        min_chapters=fewest,
        max_chapters=most,
        total_words=total_words,
        instruction=instruction.strip(),
        bible_block=bible_block(language, bible),
    )
    messages = [{"role": "user", "content": prompt}]
    max_tokens = most * _CHAPTER_TOKENS[language] + 50
    yield from backend.stream(
        plan_request(messages, max_tokens, seed, chapters_schema(total_words))
    )


def chapters_from_model_output(text: str, total_words: int) -> Plan:
    """The chapters of a model's reply, rescaled to the total; a reply without any complete
    chapter is a one-line error."""
    try:
        rows = [_DraftChapter.model_validate(row) for row in json_rows(text, "chapters")]
    except (ValueError, KeyError, TypeError, ValidationError):
        rows = []
    if not rows:
        raise UserError(key="error.reply_no_plan")
    _, most = chapter_bounds(total_words)
    rows = rows[:most]
    mean = total_words / len(rows)
    low, high = CHAPTER_SPREAD
    chapters = [
        Chapter(
            title=r.title,
            summary=r.summary,
            words=round(min(max(r.words, low * mean), high * mean)),
        )
        for r in rows
    ]
    return rescale_book(Plan(chapters=chapters), total_words)


def draft_book_plan(
    backend: Backend,
    instruction: str,
    total_words: int,
    bible: str = "",
    seed: int | None = None,
    scenes_up_front: bool = False,
) -> Plan:
    """A two-level plan: the chapters, and with `scenes_up_front` every chapter's scenes."""
    text = "".join(draft_chapters_stream(backend, instruction, total_words, bible, seed))
    plan = chapters_from_model_output(text, total_words)
    if scenes_up_front:
        for chapter in plan.chapters:
            plan = draft_scenes(backend, Brief(instruction, plan, bible), chapter.id, seed)
    return plan


def draft_any_plan(
    backend: Backend,
    instruction: str,
    total_words: int,
    bible: str = "",
    seed: int | None = None,
    scenes_up_front: bool = False,
) -> Plan:
    """A flat plan for a piece up to TWO_LEVEL_FROM_WORDS words, a book plan above."""
    if two_level(total_words):
        return draft_book_plan(backend, instruction, total_words, bible, seed, scenes_up_front)
    return draft_plan(backend, instruction, total_words, bible, seed)


def draft_scenes(backend: Backend, brief: Brief, chapter_id: str, seed: int | None = None) -> Plan:
    """The plan with the scenes of one chapter drafted (it must have none yet), seeing the task,
    the pinned bible entries and the recaps of the chapters before."""
    plan = brief.plan
    number = plan.chapter_index(chapter_id)
    chapter = plan.chapters[number]
    language = brief.language
    fewest, most = section_bounds(chapter.words)
    most = min(most, MAX_SCENES_PER_CHAPTER)
    prompt = render(
        language,
        "plan_scenes",
        book_head=book_head(brief, number),
        chapter_number=number + 1,
        chapter_count=len(plan.chapters),
        chapter_title=chapter.title,
        chapter_summary=chapter.summary,
        min_sections=min(fewest, most),
        max_sections=most,
        total_words=chapter.words,
    )
    # the system turn and book head of the chapter's scene prompts: llama.cpp reuses them
    messages = [
        {"role": "system", "content": render(language, "system")},
        {"role": "user", "content": prompt},
    ]
    for attempt in range(SCENE_PLAN_ATTEMPTS):
        request = plan_request(
            messages,
            most * 130 * (2 if language == "zh" else 1) + 50,
            None if seed is None else seed + attempt,
            draft_schema(chapter.words),
        )
        try:  # a reply cut off before its first complete scene is drafted again
            drafted = plan_from_model_output("".join(backend.stream(request)), chapter.words)
            break
        except UserError:
            continue
    else:
        drafted = even_scenes(chapter, min(fewest, most))
    scenes = rescale(drafted, chapter.words).sections
    return with_scenes(plan, chapter_id, scenes[:MAX_SCENES_PER_CHAPTER])


def even_scenes(chapter: Chapter, count: int) -> Plan:
    """Scenes of equal length that each carry the chapter's summary: what a chapter gets when
    the model twice fails to plan it, so that a long run never stops for want of a plan."""
    return Plan(
        sections=[
            PlanSection(
                title=f"{chapter.title} ({i}/{count})",
                main_point=chapter.summary,
                words=max(1, chapter.words // count),
            )
            for i in range(1, count + 1)
        ]
    )


def with_scenes(plan: Plan, chapter_id: str, scenes: list[PlanSection]) -> Plan:
    """The plan with chapter `chapter_id`'s scenes replaced by `scenes`."""
    where = plan.scene_range(chapter_id)
    placed = [scene.model_copy(update={"chapter": chapter_id}) for scene in scenes]
    sections = plan.sections[: where.start] + placed + plan.sections[where.stop :]
    return Plan.model_validate(
        {**plan.model_dump(), "sections": [s.model_dump() for s in sections]}
    )


def rescale_book(plan: Plan, total_words: int) -> Plan:
    """Scale unlocked chapters so the book adds up to total_words. A chapter with scenes scales
    its unlocked scenes; locked chapters and locked scenes keep their counts. A book that
    already adds up is returned as it is."""
    if plan.total_words == total_words and all(
        s.words >= MIN_SECTION_WORDS for s in plan.sections if not s.locked
    ):
        return plan
    free = [i for i, c in enumerate(plan.chapters) if not c.locked]
    if not free:
        return plan
    fixed = sum(plan.chapter_words(c) for c in plan.chapters if c.locked)
    least = [MIN_SECTION_WORDS * max(1, len(plan.scenes(plan.chapters[i].id))) for i in free]
    budget = max(total_words - fixed, sum(least))
    current = sum(plan.chapter_words(plan.chapters[i]) for i in free)
    spare = budget - sum(least)
    shares = [plan.chapter_words(plan.chapters[i]) / current * spare for i in free]
    counts = round_preserving_sum(shares, spare)
    chapters = list(plan.chapters)
    for i, extra, low in zip(free, counts, least, strict=True):
        words = min(low + extra, MAX_CHAPTER_WORDS)
        chapters[i] = chapters[i].model_copy(update={"words": words})
    rescaled = plan.model_copy(update={"chapters": chapters})
    for i in free:
        chapter = chapters[i]
        scenes = rescaled.scenes(chapter.id)
        if scenes:
            alone = Plan(sections=[s.model_copy(update={"chapter": None}) for s in scenes])
            rescaled = with_scenes(rescaled, chapter.id, rescale(alone, chapter.words).sections)
    return Plan.model_validate(rescaled.model_dump())
