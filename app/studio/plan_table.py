"""The plan editor's table: rows of [title, main point, words, locked] <-> engine Plan.

The table shows no ids; a list of section ids travels beside the rows (one per row, in a
gr.State), and every row operation moves both together, so a row keeps its written text
whatever is inserted, moved or deleted around it.
"""

from pydantic import ValidationError

from app.studio.language import t
from engine.errors import UserError
from engine.schema import MAX_SECTION_WORDS, MAX_SECTIONS, Plan, PlanSection, new_section_id

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


def plan_rows(plan: Plan | None) -> Rows:
    if plan is None:
        return []
    return [[s.title, s.main_point, s.words, s.locked] for s in plan.sections]


def plan_ids(plan: Plan | None) -> Ids:
    return plan.ids if plan is not None else []


def row_ids(rows: Rows, ids: Ids | None) -> Ids:
    """One id per row: the known ones in order, fresh ones for rows the table added."""
    ids = list(ids or [])[: len(rows)]
    return ids + [new_section_id() for _ in range(len(rows) - len(ids))]


def _words(value: object, row: int) -> int:
    try:
        words = int(float(str(value).replace(",", "").strip()))
    except ValueError:
        raise UserError(key="error.row_words_nan", row=row, value=repr(value)) from None
    if not 1 <= words <= MAX_SECTION_WORDS:
        raise UserError(key="error.row_words_range", row=row, most=f"{MAX_SECTION_WORDS:,}")
    return words


def _locked(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "x"}
    return bool(value)


def rows_plan(rows: Rows, ids: Ids | None = None, previous: Plan | None = None) -> Plan:
    """The plan the table shows (rows keep the ids beside them), or a UserError naming the
    first bad row. What the table does not show (whether an imported row's title is a heading)
    comes from the `previous` plan's row with the same id."""
    shown_as_heading = {s.id: s.heading for s in previous.sections} if previous else {}
    pairs = [
        (row, section_id)
        for row, section_id in zip(rows, row_ids(rows, ids), strict=True)
        if any(str(cell).strip() for cell in row[:3])
    ]
    if not pairs:
        raise UserError(key="error.plan_empty")
    sections = []
    for number, (row, section_id) in enumerate(pairs, start=1):
        title, point, words, locked = (list(row) + [None] * 4)[:4]
        try:
            sections.append(
                PlanSection(
                    id=section_id,
                    title=str(title or ""),
                    main_point=str(point or ""),
                    words=_words(words, number),
                    locked=_locked(locked),
                    heading=shown_as_heading.get(section_id, True),
                )
            )
        except ValidationError as error:
            field = error.errors()[0]["loc"][0]
            key = "error.row_point_empty" if field == "main_point" else "error.row_title_empty"
            raise UserError(key=key, row=number) from None
    if len(sections) > MAX_SECTIONS:
        raise UserError(key="error.too_many_rows", most=MAX_SECTIONS)
    return Plan(sections=sections)


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


def add_row(rows: Rows, ids: Ids, after: int | None) -> tuple[Rows, Ids]:
    """A new row after row `after` (1-based), or at the end."""
    ids = row_ids(rows, ids)
    position = len(rows) if not after or not 1 <= int(after) <= len(rows) else int(after)
    return (
        [*rows[:position], list(NEW_ROW), *rows[position:]],
        [*ids[:position], new_section_id(), *ids[position:]],
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
    rows[i][3] = not _locked(rows[i][3])
    return rows, row_ids(rows, ids)
