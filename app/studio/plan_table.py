"""The plan editor's table: rows of [title, main point, words, locked] <-> engine Plan."""

from pydantic import ValidationError

from engine.errors import UserError
from engine.schema import MAX_SECTION_WORDS, MAX_SECTIONS, Plan, PlanSection

HEADERS = ["Title", "Main point", "Words", "Locked"]
DATATYPES = ["str", "str", "number", "bool"]
NEW_ROW = ["New section", "What happens in this section.", 300, False]

Rows = list[list]


def plan_rows(plan: Plan | None) -> Rows:
    if plan is None:
        return []
    return [[s.title, s.main_point, s.words, s.locked] for s in plan.sections]


def _words(value: object, row: int) -> int:
    try:
        words = int(float(str(value).replace(",", "").strip()))
    except ValueError:
        raise UserError(f"Row {row}: the word count {value!r} is not a number.") from None
    if not 1 <= words <= MAX_SECTION_WORDS:
        raise UserError(f"Row {row}: give a word count between 1 and {MAX_SECTION_WORDS:,}.")
    return words


def _locked(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "x"}
    return bool(value)


def rows_plan(rows: Rows) -> Plan:
    """The plan the table shows, or a UserError naming the first bad row."""
    rows = [row for row in rows if any(str(cell).strip() for cell in row[:3])]
    if not rows:
        raise UserError("The plan is empty: add a row, or draft a plan.")
    sections = []
    for number, row in enumerate(rows, start=1):
        title, point, words, locked = (list(row) + [None] * 4)[:4]
        try:
            sections.append(
                PlanSection(
                    title=str(title or ""),
                    main_point=str(point or ""),
                    words=_words(words, number),
                    locked=_locked(locked),
                )
            )
        except ValidationError as error:
            field = error.errors()[0]["loc"][0]
            name = {"title": "title", "main_point": "main point"}.get(str(field), str(field))
            raise UserError(f"Row {number}: the {name} must not be empty.") from None
    if len(sections) > MAX_SECTIONS:
        raise UserError(f"A plan has at most {MAX_SECTIONS} sections; delete some rows.")
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
        raise UserError(f"Choose a row number between 1 and {len(rows)}.")
    return int(row) - 1


def add_row(rows: Rows, after: int | None) -> Rows:
    """A new row after row `after` (1-based), or at the end."""
    position = len(rows) if not after or not 1 <= int(after) <= len(rows) else int(after)
    return [*rows[:position], list(NEW_ROW), *rows[position:]]


def delete_row(rows: Rows, row: int | None) -> Rows:
    i = _row_index(rows, row)
    return rows[:i] + rows[i + 1 :]


def move_row(rows: Rows, row: int | None, step: int) -> Rows:
    i = _row_index(rows, row)
    j = i + step
    if not 0 <= j < len(rows):
        return rows
    rows = [list(r) for r in rows]
    rows[i], rows[j] = rows[j], rows[i]
    return rows


def toggle_lock(rows: Rows, row: int | None) -> Rows:
    i = _row_index(rows, row)
    rows = [list(r) for r in rows]
    rows[i][3] = not _locked(rows[i][3])
    return rows
