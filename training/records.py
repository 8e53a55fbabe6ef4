"""The JSONL records training reads and writes, validated with pydantic.

- `Conversation`: {"messages": [...]} — the LongWriter-6k SFT format.
- `PreferencePair`: TRL's conversational preference format ("prompt", "chosen", "rejected").
- `WritingTask`: one writing instruction with its required length in words.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from engine.errors import UserError
from engine.planning.plan import words_from_instruction

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    role: Role
    content: str


class Conversation(BaseModel):
    """One SFT example: optional system turn, then alternating user/assistant, ending assistant."""

    messages: list[Message] = Field(min_length=2)

    @model_validator(mode="after")
    def _well_formed(self) -> "Conversation":
        turns = [m for m in self.messages if m.role != "system"]
        if any(m.role == "system" for m in self.messages[1:]):
            raise ValueError("a system message may only come first")
        expected = ["user", "assistant"] * (len(turns) // 2 + 1)
        if [m.role for m in turns] != expected[: len(turns)]:
            raise ValueError("turns must alternate user, assistant, … starting with user")
        if not turns or turns[-1].role != "assistant":
            raise ValueError("the last message must be the assistant's")
        if not turns[-1].content.strip():
            raise ValueError("the last assistant message is empty")
        return self


class PreferencePair(BaseModel):
    """A prompt with a better (chosen) and a worse (rejected) assistant reply."""

    prompt: list[Message] = Field(min_length=1)
    chosen: list[Message] = Field(min_length=1, max_length=1)
    rejected: list[Message] = Field(min_length=1, max_length=1)

    @field_validator("chosen", "rejected")
    @classmethod
    def _assistant(cls, value: list[Message]) -> list[Message]:
        if value[0].role != "assistant":
            raise ValueError("must be one assistant message")
        return value


class WritingTask(BaseModel):
    """A writing instruction and the length it asks for (read from the text when not given)."""

    instruction: str = Field(min_length=1)
    words: int | None = Field(None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data):
        if isinstance(data, dict):  # LongBench-Write rows say "prompt" and "length"
            data = dict(data)
            data.setdefault("instruction", data.pop("prompt", None))
            data.setdefault("words", data.pop("length", None))
        return data

    @model_validator(mode="after")
    def _length(self) -> "WritingTask":
        if self.words is None:
            self.words = words_from_instruction(self.instruction)
        if self.words is None:
            raise ValueError('no length: add "words" or say it ("a 2,000-word story…")')
        return self


Record = TypeVar("Record", bound=BaseModel)


def read_jsonl(path: str | Path, model: type[Record]) -> list[Record]:
    """Every line of a JSONL file as a validated record; the first bad line is a UserError."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(key="error.jsonl_missing", path=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(key="error.jsonl_unreadable", path=path, problem=error) from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise UserError(
                key="error.jsonl_bad_line",
                path=path,
                line=number,
                kind=model.__name__,
                where=where,
                problem=first["msg"],
            ) from None
    if not records:
        raise UserError(key="error.jsonl_empty", path=path)
    return records


def read_tasks(path: str | Path) -> list[WritingTask]:
    """Writing instructions from a JSONL file ({"instruction", "words"}) or a text file
    (one instruction per line, its length said in the text)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path, WritingTask)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise UserError(key="error.instructions_missing", path=path) from None
    tasks = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            tasks.append(WritingTask(instruction=line))
        except ValidationError:
            raise UserError(key="error.instruction_no_length", path=path, line=number) from None
    if not tasks:
        raise UserError(key="error.instructions_empty", path=path)
    return tasks


def write_jsonl(path: str | Path, records: Iterable[BaseModel | dict]) -> int:
    """Write records one JSON object a line (atomically); returns how many."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    count = 0
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            for record in records:
                row = record.model_dump() if isinstance(record, BaseModel) else record
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        temporary.replace(path)
    except OSError as error:
        raise UserError(key="error.cannot_write", path=path, problem=error.strerror) from None
    return count


def iter_jsonl(path: Path) -> Iterator[dict]:
    """Raw rows of a JSONL file written by this package (no validation)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
