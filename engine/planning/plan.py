"""Plan drafting (schema-constrained), parsing of classic text plans, and rescaling."""

import json
import math
import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from engine.errors import UserError
from engine.models.backends.base import Backend, ChatRequest
from engine.prompts import bible_block, language_of, render
from engine.schema import (
    MAX_INSTRUCTION_CHARS,
    MAX_SECTIONS,
    MAX_TOTAL_WORDS,
    Plan,
    PlanSection,
    SamplingSettings,
)

MIN_SECTION_WORDS = 20
_WORDS_PER_SECTION_LOW = 350
_WORDS_PER_SECTION_HIGH = 900
# Token room per drafted row; the embedded model's tokenizer spends 2-3 tokens per Chinese char.
_ROW_TOKENS = {"en": 130, "zh": 300}


def clipped(limit: int):
    """A validator that strips a string and cuts it to `limit` characters."""
    return BeforeValidator(lambda value: str(value).strip()[:limit])


class _DraftRow(BaseModel):
    """One row as a model drafts it; over-long text is cut rather than rejected."""

    title: Annotated[str, clipped(80), Field(min_length=1)]
    main_point: Annotated[str, clipped(400), Field(min_length=1)]
    words: Annotated[int, BeforeValidator(lambda value: min(max(int(value), 1), 99_999))]


def section_bounds(total_words: int) -> tuple[int, int]:
    """How many sections a plan for this many words may have (fewest, most)."""
    fewest = max(1, math.ceil(total_words / _WORDS_PER_SECTION_HIGH))
    most = max(fewest, math.ceil(total_words / _WORDS_PER_SECTION_LOW))
    return min(fewest, MAX_SECTIONS), min(most, MAX_SECTIONS)


# Strings on one line, without quotes or escapes: a small model that wants to end the JSON
# otherwise writes a newline and "}" inside the string and rambles on to the token limit.
ONE_LINE = r'^[^"\\\n\t]*$'


def rows_schema(key: str, text_field: str, fewest: int, most: int, most_words: int) -> dict:
    """JSON schema of a drafted list of rows under `key`, each a title, one text field and a
    word count; llama.cpp turns it into a grammar.

    Strings carry no length bounds: llama.cpp expands minLength/maxLength into one grammar
    rule per character, which made drafting ten times slower; long text is cut instead.
    """
    row = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "pattern": ONE_LINE},
            text_field: {"type": "string", "pattern": ONE_LINE},
            "words": {"type": "integer", "minimum": 10, "maximum": most_words},
        },
        "required": ["title", text_field, "words"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {key: {"type": "array", "items": row, "minItems": fewest, "maxItems": most}},
        "required": [key],
        "additionalProperties": False,
    }


def draft_schema(total_words: int) -> dict:
    """The schema of a drafted flat plan (or of one chapter's scenes)."""
    return rows_schema("sections", "main_point", *section_bounds(total_words), 9999)


def plan_request(
    messages: list[dict[str, str]], max_tokens: int, seed: int | None, schema: dict
) -> ChatRequest:
    """A drafting request: cool sampling, and the reply held to `schema`."""
    sampling = SamplingSettings(temperature=0.5, repeat_penalty=1.05, seed=seed)
    return ChatRequest(messages, max_tokens, sampling, json_schema=schema)


def check_request(instruction: str, total_words: int) -> None:
    """Raise a UserError for an instruction or length the writer cannot work with."""
    if not instruction.strip():
        raise UserError(key="error.instruction_empty")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise UserError(
            key="error.instruction_long",
            length=f"{len(instruction):,}",
            most=f"{MAX_INSTRUCTION_CHARS:,}",
        )
    if total_words <= 0:
        raise UserError(key="error.words_positive")
    if total_words > MAX_TOTAL_WORDS:
        raise UserError(
            key="error.words_too_many", words=f"{total_words:,}", most=f"{MAX_TOTAL_WORDS:,}"
        )


def words_from_instruction(instruction: str) -> int | None:
    """The word count an instruction asks for ("a 10,000-word story", "写一篇1000字"), if any."""
    pattern = re.compile(
        r"(\d[\d,]*(?:\.\d+)?)\s*(万)?\s*(?:-|\s)?\s*(?:words?\b|字)", re.IGNORECASE
    )
    matches = pattern.findall(instruction)
    if not matches:
        return None
    number, ten_thousand = matches[-1]
    value = float(number.replace(",", "")) * (10_000 if ten_thousand else 1)
    return int(value) if value >= 1 else None


def draft_plan_stream(
    backend: Backend, instruction: str, total_words: int, bible: str = "", seed: int | None = None
) -> Iterator[str]:
    """Stream the raw text of a drafted plan (JSON when the backend honours the schema)."""
    check_request(instruction, total_words)
    language = language_of(instruction)
    fewest, most = section_bounds(total_words)
    prompt = render(
        language,
        "plan",
        min_sections=fewest,
        max_sections=most,
        total_words=total_words,
        instruction=instruction.strip(),
        bible_block=bible_block(language, bible),
    )
    messages = [{"role": "user", "content": prompt}]
    max_tokens = most * _ROW_TOKENS[language] + 50
    yield from backend.stream(plan_request(messages, max_tokens, seed, draft_schema(total_words)))


def draft_plan(
    backend: Backend, instruction: str, total_words: int, bible: str = "", seed: int | None = None
) -> Plan:
    """Draft a plan for the instruction and rescale it to the requested total."""
    text = "".join(draft_plan_stream(backend, instruction, total_words, bible, seed))
    return rescale(plan_from_model_output(text, total_words), total_words)


def plan_from_model_output(text: str, total_words: int) -> Plan:
    """Read a model's plan: JSON first, the classic text form second; bound the section count."""
    try:
        rows = [_DraftRow.model_validate(row) for row in json_rows(text)]
        sections = [
            PlanSection(title=r.title, main_point=r.main_point, words=r.words) for r in rows
        ]
        plan = Plan(sections=sections)
    except (ValueError, KeyError, TypeError, ValidationError):
        plan = parse_text_plan(text)
    _, most = section_bounds(total_words)
    return Plan(sections=plan.sections[:most])


def json_rows(text: str, key: str = "sections") -> list:
    """The rows under `key` of a JSON plan; raw newlines in strings are allowed, and a reply cut
    off by the token limit keeps its complete rows."""
    try:
        return json.loads(text, strict=False)[key]
    except json.JSONDecodeError:
        end = text.rfind("}")
        while end > 0:
            try:
                return json.loads(text[: end + 1] + "]}", strict=False)[key]
            except json.JSONDecodeError:
                end = text.rfind("}", 0, end)
        raise


_TEXT_ROW = re.compile(
    r"(?:paragraph|section|part|段落|第)\s*(\d+)\s*(?:段|节|部分)?\s*[-–—:：]\s*"
    r"(?:main\s*point|主要内容|要点)\s*[:：]\s*(?P<point>.+?)\s*[-–—]+\s*"
    r"(?:word\s*count|字数要求|字数)\s*[:：]\s*(?P<words>\d[\d,]*)\s*(?:words?|字)?",
    re.IGNORECASE,
)


def parse_text_plan(text: str) -> Plan:
    """Parse `Paragraph N - Main Point: … - Word Count: N words` lines (and Chinese variants)."""
    sections = []
    for match in _TEXT_ROW.finditer(text):
        point = match["point"].strip()
        words = int(match["words"].replace(",", ""))
        if not point or words <= 0:
            continue
        sections.append(
            PlanSection(title=_title_from(point), main_point=point, words=min(words, 10_000))
        )
    if not sections:
        raise UserError(key="error.reply_no_plan")
    return Plan(sections=sections[:MAX_SECTIONS])


def _title_from(point: str) -> str:
    """A short title made from the first words of a main point."""
    if language_of(point) == "zh":
        return point[:12]
    words = point.split()
    return " ".join(words[:6]) + ("…" if len(words) > 6 else "")


def rescale(plan: Plan, total_words: int) -> Plan:
    """Scale unlocked sections so the plan adds up to total_words; locked rows keep their counts.
    A plan that already adds up, each row at least the minimum, is returned as it is (scaling
    would still move words between rows, since every row first gets the minimum)."""
    if plan.total_words == total_words and _rows_long_enough(plan):
        return plan
    locked = sum(s.words for s in plan.sections if s.locked)
    free = [i for i, s in enumerate(plan.sections) if not s.locked]
    if not free:
        return plan
    budget = max(total_words - locked, MIN_SECTION_WORDS * len(free))
    spare = budget - MIN_SECTION_WORDS * len(free)  # every row gets the minimum, then a share
    current = sum(plan.sections[i].words for i in free)
    shares = [plan.sections[i].words / current * spare for i in free]
    counts = round_preserving_sum(shares, spare)
    sections = list(plan.sections)
    for i, count in zip(free, counts, strict=True):
        sections[i] = sections[i].model_copy(update={"words": MIN_SECTION_WORDS + count})
    return Plan(sections=sections)


def _rows_long_enough(plan: Plan) -> bool:
    return all(s.words >= MIN_SECTION_WORDS for s in plan.sections if not s.locked)


def round_preserving_sum(values: list[float], total: int) -> list[int]:
    """Round to integers whose sum is total, giving leftovers to the largest remainders."""
    floors = [math.floor(v) for v in values]
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    for i in order[: total - sum(floors)]:
        floors[i] += 1
    return floors


def merge_locked(previous: Plan, drafted: Plan) -> Plan:
    """A re-drafted plan that keeps the locked rows of the previous one at their positions."""
    locked = {i: s for i, s in enumerate(previous.sections) if s.locked}
    fresh = iter(s for s in drafted.sections)
    length = max(len(drafted.sections), max(locked, default=-1) + 1)
    sections = []
    for i in range(length):
        if i in locked:
            sections.append(locked[i])
        else:
            row = next(fresh, None)
            if row is not None:
                sections.append(row)
    return Plan(sections=sections[:MAX_SECTIONS])


def load_plan_file(path: str) -> Plan:
    """Read a plan saved as JSON (by `longwrite plan -o`, or written by hand: flat, or chapters
    nesting their scenes), with a one-line error naming where it is invalid."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        return Plan.model_validate_json(text)
    except FileNotFoundError:
        raise UserError(key="error.plan_file_missing", path=path) from None
    except ValidationError as error:
        first = error.errors()[0]
        problem = first["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in _file_location(text, first["loc"]))
        if not where:  # a rule about the whole plan
            raise UserError(key="error.plan_invalid_whole", path=path, problem=problem) from None
        raise UserError(key="error.plan_invalid", path=path, where=where, problem=problem) from None
    except (UnicodeDecodeError, OSError) as error:
        raise UserError(key="error.plan_unreadable", path=path, problem=error) from None


def _file_location(text: str, location: tuple) -> tuple:
    """Where an error is in the file as written: a scene of the nested form is validated as row
    N of `sections`, which the file calls chapters.C.scenes.S."""
    if len(location) < 2 or location[0] != "sections" or not isinstance(location[1], int):
        return location
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return location
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), list):
        return location
    row = location[1] - len(data.get("sections") or [])
    if row < 0:
        return location
    for number, chapter in enumerate(data["chapters"]):
        scenes = chapter.get("scenes") if isinstance(chapter, dict) else None
        count = len(scenes) if isinstance(scenes, list) else 0
        if row < count:
            return ("chapters", number, "scenes", row, *location[2:])
        row -= count
    return location
