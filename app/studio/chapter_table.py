"""The plan editor's chapters table (two-level plans): rows of [title, summary, words, locked]
<-> the plan's chapters.

Chapter ids travel beside the rows like section ids do (plan_table); a chapter's scenes follow
it wherever it moves, leave with it when it is deleted, and are rescaled when its words change.
"""

import functools

from pydantic import ValidationError

from app.studio.language import t
from app.studio.plan_table import Ids, Rows, add_row, cell_locked, cell_words, filled
from engine.errors import UserError
from engine.planning.book_plan import rescale_book
from engine.planning.plan import rescale
from engine.schema import MAX_CHAPTER_WORDS, MAX_CHAPTERS, Chapter, Plan, new_chapter_id

COLUMNS = ("title", "summary", "words", "locked")
DATATYPES = ["str", "str", "number", "bool"]
NEW_CHAPTER = ["New chapter", "What happens in this chapter.", 2000, False]

add_chapter = functools.partial(add_row, new_row=NEW_CHAPTER, fresh=new_chapter_id)


def headers() -> list[str]:
    return [t(f"chapters.col.{column}") for column in COLUMNS]


def table(rows: Rows) -> dict:
    return {"headers": headers(), "data": rows}


def chapter_rows(plan: Plan | None) -> Rows:
    """One row per chapter; the words are its scenes' once it has scenes."""
    if plan is None:
        return []
    return [[c.title, c.summary, plan.chapter_words(c), c.locked] for c in plan.chapters]


def chapter_ids(plan: Plan | None) -> Ids:
    return [c.id for c in plan.chapters] if plan is not None else []


def chapter_choices(plan: Plan | None) -> list[tuple[str, str]]:
    """The chapter picker's choices: `3. Title`, valued by chapter id."""
    chapters = plan.chapters if plan is not None else []
    return [(f"{i + 1}. {c.title}", c.id) for i, c in enumerate(chapters)]


def chapters_plan(rows: Rows, ids: Ids | None, previous: Plan) -> Plan:
    """The two-level plan the chapters table shows, its scenes kept with their chapters, or a
    UserError naming the first bad chapter."""
    pairs = filled(rows, ids, new_chapter_id)
    if not pairs:
        raise UserError(key="error.chapters_empty")
    if len(pairs) > MAX_CHAPTERS:
        raise UserError(key="error.too_many_chapters", most=MAX_CHAPTERS)
    known = {c.id: c for c in previous.chapters}
    chapters, sections = [], []
    for number, (row, chapter_id) in enumerate(pairs, start=1):
        title, summary, words, locked = (list(row) + [None] * 4)[:4]
        words = cell_words(words, number, MAX_CHAPTER_WORDS, "chapter")
        try:
            chapter = Chapter(
                id=chapter_id,
                title=str(title or ""),
                summary=str(summary or ""),
                words=words,
                locked=cell_locked(locked),
            )
        except ValidationError as error:
            field = error.errors()[0]["loc"][0]
            key = (
                "error.chapter_summary_empty" if field == "summary" else "error.chapter_title_empty"
            )
            raise UserError(key=key, row=number) from None
        scenes = previous.scenes(chapter_id) if chapter_id in known else []
        if scenes and words != previous.chapter_words(known[chapter_id]):
            alone = Plan(sections=[s.model_copy(update={"chapter": None}) for s in scenes])
            scenes = rescale(alone, words).sections
        chapters.append(chapter)
        sections += [s.model_copy(update={"chapter": chapter_id}) for s in scenes]
    return Plan(chapters=chapters, sections=sections)


def merge_locked_chapters(previous: Plan | None, drafted: Plan, total_words: int) -> Plan:
    """A re-drafted book plan that keeps the previous plan's locked chapters (with their scenes)
    at their places, rescaled to the total."""
    if previous is None or not previous.two_level:
        return drafted
    locked = {i: c for i, c in enumerate(previous.chapters) if c.locked}
    if not locked:
        return drafted
    fresh = iter(drafted.chapters)
    chapters = []
    for i in range(max(len(drafted.chapters), max(locked) + 1)):
        chapter = locked.get(i) or next(fresh, None)
        if chapter is not None:
            chapters.append(chapter)
    chapters = chapters[:MAX_CHAPTERS]
    kept = {c.id for c in locked.values()}
    sections = [s for c in chapters if c.id in kept for s in previous.scenes(c.id)]
    return rescale_book(Plan(chapters=chapters, sections=sections), total_words)
