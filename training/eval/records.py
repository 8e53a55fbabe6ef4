"""What a run directory holds: its settings, predictions and judgments, as JSON and JSONL files.

Each generated answer is appended to predictions.jsonl as soon as it is finished and each judge
verdict to judgments.jsonl, so an interrupted run loses at most the row in progress, and a
resumed run skips every row already recorded.
"""

import json
import os
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import UserError
from training.eval.judge import Verdict

PREDICTIONS = "predictions.jsonl"
JUDGMENTS = "judgments.jsonl"
SETTINGS = "run.json"

Kind = Literal["longbench", "ruler"]
Record = TypeVar("Record", bound=BaseModel)


class RunSettings(BaseModel):
    """How a run was made; a resumed run must match it."""

    kind: Kind
    input: str
    mode: Literal["agentwrite", "single"]
    model: str
    judge: str | None = None


class Prediction(BaseModel):
    """One generated answer and its length score."""

    id: int
    prompt: str
    type: str
    language: str
    required: int
    bucket: str
    response: str
    words: int
    length_score: float
    sections: int
    output_tokens: int
    seconds: float
    plan_fallback: bool = False


class Judgment(Verdict):
    """The judge's verdict on the answer to row `id`."""

    id: int


def append_jsonl(path: Path, record: BaseModel) -> None:
    """Append one record as a line and make sure it reached the disk."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(record.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path, model: type[Record]) -> list[Record]:
    """Records of a JSONL file; a last line cut short by a crash is ignored, others must parse."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    records: list[Record] = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError:
            if number == len(lines) - 1:
                break  # a write interrupted half-way; the row will be made again
            raise UserError(key="error.eval_line_damaged", path=path, line=number + 1) from None
    return records


def open_run(out: Path, settings: RunSettings, resume: bool) -> None:
    """Create a run directory, or check that the one being resumed was made the same way."""
    saved_path = out / SETTINGS
    if saved_path.is_file():
        if not resume:
            raise UserError(key="error.eval_run_exists", path=out)
        saved = RunSettings.model_validate_json(saved_path.read_text(encoding="utf-8"))
        for field in ("kind", "input", "mode", "model"):
            if getattr(saved, field) != getattr(settings, field):
                raise UserError(
                    key="error.eval_run_differs",
                    path=out,
                    field=field,
                    saved=getattr(saved, field),
                    given=getattr(settings, field),
                )
        if settings.judge and saved.judge != settings.judge:
            saved_path.write_text(settings.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        saved_path.write_text(settings.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise UserError(key="error.out_unwritable", path=out, problem=error.strerror) from None


def read_settings(out: Path) -> RunSettings:
    """The settings of an existing run directory."""
    path = out / SETTINGS
    if not path.is_file():
        raise UserError(key="error.not_eval_run", path=out, settings=SETTINGS)
    return RunSettings.model_validate_json(path.read_text(encoding="utf-8"))


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
