"""The plan editor's table: rows of [title, main point, words, locked] <-> engine Plan.

The table shows no ids; a list of section ids travels beside the rows (one per row, in a
gr.State), and every row operation moves both together, so a row keeps its written text
whatever is inserted, moved or deleted around it. In a two-level plan the table shows the
scenes of one chapter (`scenes_plan` puts them back into the whole plan).
"""

from collections.abc import Callable

from pydantic import ValidationError

from app.studio.language import t
from engine.errors import UserError
from engine.planning.book_plan import with_scenes
from engine.schema import (
    MAX_SCENES_PER_CHAPTER,
    MAX_SECTION_WORDS,
    MAX_SECTIONS,
    Plan,
    PlanSection,
    new_section_id,
)

COLUMNS = ("title", "point", "words", "locked")
DATATYPES = ["str", "str", "number", "bool"]
NEW_ROW = ["New section", "What happens in this section.", 300, False]

Rows = list[list]
Ids = list[str]


def headers() -> list[str]:
    """The table's column names in the reader's language."""
    return [t(f"plan.col.{column}") for column in COLUMNS]


def table(rows: Rows) -> dict:
    """The table's value: its rows under headers in the reader's language."""
    return {"headers": headers(), "data": rows}


def _shown(plan: Plan | None, chapter_id: str | None) -> list[PlanSection]:
    """The rows the table shows: a flat plan's sections, or one chapter's scenes."""
    if plan is None:
        return []
    return plan.scenes(chapter_id) if plan.two_level else plan.sections


def plan_rows(plan: Plan | None, chapter_id: str | None = None) -> Rows:
    return [[s.title, s.main_point, s.words, s.locked] for s in _shown(plan, chapter_id)]


def plan_ids(plan: Plan | None, chapter_id: str | None = None) -> Ids:
    return [s.id for s in _shown(plan, chapter_id)]


def row_ids(rows: Rows, ids: Ids | None, fresh: Callable[[], str] = new_section_id) -> Ids:
    """One id per row: the known ones in order, fresh ones for rows the table added."""
    ids = list(ids or [])[: len(rows)]
    return ids + [fresh() for _ in range(len(rows) - len(ids))]


def cell_words(value: object, row: int, most: int, what: str = "row") -> int:
    """A words cell as a number from 1 to `most`, or a UserError naming the row (or chapter)."""
    try:
        words = int(float(str(value).replace(",", "").strip()))
    except ValueError:
        raise UserError(key=f"error.{what}_words_nan", row=row, value=repr(value)) from None
    if not 1 <= words <= most:
        raise UserError(key=f"error.{what}_words_range", row=row, most=f"{most:,}")
    return words


def cell_locked(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "x"}
    return bool(value)


def filled(rows: Rows, ids: Ids | None, fresh: Callable[[], str] = new_section_id) -> list:
    """(row, id) of the rows with anything typed in their first three cells."""
    return [
        (row, row_id)
        for row, row_id in zip(rows, row_ids(rows, ids, fresh), strict=True)
        if any(str(cell).strip() for cell in row[:3])
    ]


def rows_plan(rows: Rows, ids: Ids | None = None, previous: Plan | None = None) -> Plan:
    """The flat plan the table shows (rows keep the ids beside them), or a UserError naming the
    first bad row."""
    sections = row_sections(rows, ids, previous)
    if not sections:
        raise UserError(key="error.plan_empty")
    if len(sections) > MAX_SECTIONS:
        raise UserError(key="error.too_many_rows", most=MAX_SECTIONS)
    return Plan(sections=sections)


def scenes_plan(rows: Rows, ids: Ids | None, previous: Plan, chapter_id: str) -> Plan:
    """The two-level plan `previous` with one chapter's scenes as the table shows them (a
    chapter may have none: the run drafts them when it reaches the chapter)."""
    scenes = row_sections(rows, ids, previous)
    if len(scenes) > MAX_SCENES_PER_CHAPTER:
        raise UserError(key="error.too_many_scenes", most=MAX_SCENES_PER_CHAPTER)
    return with_scenes(previous, chapter_id, scenes)


def row_sections(rows: Rows, ids: Ids | None, previous: Plan | None) -> list[PlanSection]:
    """The rows as plan sections, or a UserError naming the first bad row. What the table does
    not show (whether an imported row's title is a heading) comes from the `previous` plan's
    row with the same id."""
    shown_as_heading = {s.id: s.heading for s in previous.sections} if previous else {}
    sections = []
    for number, (row, section_id) in enumerate(filled(rows, ids), start=1):
        title, point, words, locked = (list(row) + [None] * 4)[:4]
        try:
            sections.append(
                PlanSection(
                    id=section_id,
                    title=str(title or ""),
                    main_point=str(point or ""),
                    words=cell_words(words, number, MAX_SECTION_WORDS),
                    locked=cell_locked(locked),
                    heading=shown_as_heading.get(section_id, True),
                )
            )
        except ValidationError as error:
            field = error.errors()[0]["loc"][0]
            key = "error.row_point_empty" if field == "main_point" else "error.row_title_empty"
            raise UserError(key=key, row=number) from None
    return sections


def total_words(rows: Rows) -> int:
    """The sum of the words column, ignoring cells that are not numbers (for the live total)."""
    total = 0
    for row in rows:
        try:
            total += max(int(float(str(row[2]).replace(",", ""))), 0)
        except (ValueError, IndexError, TypeError):
            continue
    return total


def _row_index(rows: Rows, row: int | None) -> int:
    """A 1-based row number from the UI as a list index, or a UserError."""
    if row is None or not 1 <= int(row) <= len(rows):
        raise UserError(key="error.choose_row", count=len(rows))
    return int(row) - 1


def add_row(
    rows: Rows,
    ids: Ids,
    after: int | None,
    new_row: list = NEW_ROW,
    fresh: Callable[[], str] = new_section_id,
) -> tuple[Rows, Ids]:
    """A new row after row `after` (1-based), or at the end."""
    ids = row_ids(rows, ids, fresh)
    position = len(rows) if not after or not 1 <= int(after) <= len(rows) else int(after)
    return (
        [*rows[:position], list(new_row), *rows[position:]],
        [*ids[:position], fresh(), *ids[position:]],
    )


def delete_row(rows: Rows, ids: Ids, row: int | None) -> tuple[Rows, Ids]:
    i = _row_index(rows, row)
    ids = row_ids(rows, ids)
    return rows[:i] + rows[i + 1 :], ids[:i] + ids[i + 1 :]


def move_row(rows: Rows, ids: Ids, row: int | None, step: int) -> tuple[Rows, Ids]:
    i = _row_index(rows, row)
    j = i + step
    ids = row_ids(rows, ids)
    if not 0 <= j < len(rows):
        return rows, ids
    rows = [list(r) for r in rows]
    rows[i], rows[j] = rows[j], rows[i]
    ids[i], ids[j] = ids[j], ids[i]
    return rows, ids


def toggle_lock(rows: Rows, ids: Ids, row: int | None) -> tuple[Rows, Ids]:
    i = _row_index(rows, row)
    rows = [list(r) for r in rows]
    rows[i][3] = not cell_locked(rows[i][3])
    return rows, row_ids(rows, ids)
