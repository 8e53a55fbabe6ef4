"""AgentWrite data construction: plan and write each instruction with the engine, cache every
finished step, filter bad outputs, and write LongWriter-6k style {"messages": [...]} JSONL.

Each task has a JSON file in the cache folder, rewritten after the plan is drafted and after
every finished section, so an interrupted build continues where it stopped (`--resume`).
"""

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from pydantic import BaseModel

from engine.errors import UserError
from engine.metrics import count_words
from engine.models.backends.base import Backend
from engine.planning.plan import draft_plan
from engine.schema import Plan, SamplingSettings, WriteSettings
from engine.writing.events import SectionFinished
from engine.writing.prompt_layout import Brief
from engine.writing.writer import Writer
from training.records import Conversation, Message, WritingTask

LEFTOVER_LABEL = re.compile(r"\bparagraph\s*\d+\b|第\s*\d+\s*段", re.IGNORECASE)


@dataclass(frozen=True)
class Filters:
    """What makes a built example unusable."""

    min_length_ratio: float = 0.8  # output words / required words
    max_sections: int = 20


class TaskState(BaseModel):
    """The cached progress of one instruction."""

    instruction: str
    words: int
    plan: Plan | None = None
    sections: list[str] = []


class StepCache:
    """One JSON file per task in a folder; every write replaces the file atomically."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, task: WritingTask) -> Path:
        key = hashlib.sha256(f"{task.words}\n{task.instruction}".encode()).hexdigest()[:20]
        return self.folder / f"{key}.json"

    def load(self, task: WritingTask) -> TaskState:
        path = self.path(task)
        if path.is_file():
            return TaskState.model_validate_json(path.read_text(encoding="utf-8"))
        return TaskState(instruction=task.instruction, words=task.words)

    def save(self, task: WritingTask, state: TaskState) -> None:
        path = self.path(task)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(state.model_dump_json(), encoding="utf-8")
        temporary.replace(path)


def complete_task(backend: Backend, task: WritingTask, cache: StepCache, seed: int) -> TaskState:
    """Draft the plan and write the sections not yet cached, saving after each step."""
    state = cache.load(task)
    if state.plan is None:
        state.plan = draft_plan(backend, task.instruction, task.words, seed=seed)
        cache.save(task, state)
    settings = WriteSettings(sampling=SamplingSettings(seed=seed))
    writer = Writer(backend, Brief(task.instruction, state.plan), settings)
    for event in writer.write(list(state.sections)):
        if isinstance(event, SectionFinished):
            state.sections.append(event.text)
            cache.save(task, state)
    return state


def rejection(state: TaskState, filters: Filters) -> str | None:
    """Why a finished task is not kept, or None when it is good."""
    text = output_text(state)
    if len(state.plan.sections) > filters.max_sections:
        return "too many sections"
    if count_words(text) < filters.min_length_ratio * state.words:
        return "too short"
    if LEFTOVER_LABEL.search(text):
        return "leftover paragraph label"
    return None


def output_text(state: TaskState) -> str:
    return "\n\n".join(text.strip() for text in state.sections if text.strip())


def conversation(state: TaskState) -> Conversation:
    return Conversation(
        messages=[
            Message(role="user", content=state.instruction),
            Message(role="assistant", content=output_text(state)),
        ]
    )


@dataclass
class BuildReport:
    kept: list[Conversation]
    rejected: list[dict]

    def summary(self) -> str:
        reasons = Counter(row["reason"] for row in self.rejected)
        dropped = ", ".join(f"{n} {reason}" for reason, n in reasons.items()) or "none"
        return f"{len(self.kept)} examples kept; rejected: {dropped}."


def build(
    tasks: list[WritingTask],
    open_backend: Callable[[], Backend],
    cache_folder: Path,
    concurrency: int = 1,
    filters: Filters = Filters(),
    seed: int = 0,
    progress: Callable[[], None] = lambda: None,
) -> BuildReport:
    """Complete every task (continuing from the cache) and filter the results, in input order."""
    cache = StepCache(cache_folder)
    backends: Queue[Backend] = Queue()
    opened = [open_backend() for _ in range(min(concurrency, len(tasks)))]
    for backend in opened:
        backends.put(backend)

    def run(numbered: tuple[int, WritingTask]) -> TaskState:
        number, task = numbered
        backend = backends.get()
        try:
            return complete_task(backend, task, cache, seed + number)
        finally:
            backends.put(backend)
            progress()

    try:
        with ThreadPoolExecutor(max_workers=len(opened)) as pool:
            states = list(pool.map(run, enumerate(tasks)))
    finally:
        for backend in opened:
            backend.close()
    kept, rejected = [], []
    for state in states:
        reason = rejection(state, filters)
        if reason is None:
            kept.append(conversation(state))
        else:
            rejected.append(
                {
                    "instruction": state.instruction,
                    "reason": reason,
                    "words": state.words,
                    "output_words": count_words(output_text(state)),
                }
            )
    return BuildReport(kept, rejected)


def cache_folder_for(out: Path, resume: bool) -> Path:
    """The step cache beside the output file; refuses to mix with an earlier build unless
    resuming, so no saved work is overwritten by accident."""
    folder = out.with_name(out.name + ".cache")
    if folder.is_dir() and any(folder.glob("*.json")) and not resume:
        raise UserError(key="error.earlier_build", path=folder)
    return folder
