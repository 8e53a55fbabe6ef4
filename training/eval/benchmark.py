"""Benchmark rows (prompt, type, required length) read from a JSONL file, and length buckets."""

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from engine.errors import UserError
from engine.prompts import Language, language_of

# The paper's buckets of required length; a bucket holds lengths from its lower bound up to,
# but not including, the next one.
BUCKETS: list[tuple[str, int]] = [("0–500", 0), ("500–2k", 500), ("2k–4k", 2000), ("4k+", 4000)]


class BenchmarkRow(BaseModel):
    """One task of LongBench-Write or LongWrite-Ruler."""

    id: int = Field(ge=0, description="Line number of the row in its file, from 0")
    prompt: str = Field(min_length=1)
    type: str = "unknown"
    length: int = Field(gt=0, description="Required length in words")

    @property
    def language(self) -> Language:
        return language_of(self.prompt)

    @property
    def bucket(self) -> str:
        return bucket_of(self.length)


def bucket_of(required: int) -> str:
    """The name of the length bucket a required length falls in."""
    name = BUCKETS[0][0]
    for label, lower in BUCKETS:
        if required >= lower:
            name = label
    return name


def load_rows(path: str | Path, limit: int | None = None) -> list[BenchmarkRow]:
    """The rows of a benchmark JSONL file (the first `limit` of them), each checked."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(key="error.benchmark_missing", path=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(key="error.benchmark_unreadable", path=path, problem=error) from None
    rows: list[BenchmarkRow] = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(BenchmarkRow.model_validate({**json.loads(line), "id": number}))
        except (json.JSONDecodeError, ValidationError, TypeError) as error:
            reason = error.errors()[0]["msg"] if isinstance(error, ValidationError) else error
            raise UserError(
                key="error.benchmark_bad_row", path=path, line=number + 1, problem=reason
            ) from None
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise UserError(key="error.benchmark_empty", path=path)
    return rows
