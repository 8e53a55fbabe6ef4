"""Shared helpers for the benchmark scripts: the benchmark files and one persisted run."""

import json
import os
import tempfile
from pathlib import Path

from engine.models.backends import Backend
from engine.planning.plan import draft_plan
from engine.projects.run import run_project
from engine.schema import Plan, SamplingSettings, WriteSettings
from engine.store.database import Store
from engine.writing.events import RunFinished

BENCHMARKS = Path(
    os.environ.get(
        "LONGWRITE_BENCHMARKS", Path(__file__).parents[1] / ".." / "shared" / "benchmarks"
    )
)


THREADS_HELP = "llama.cpp threads (default: LONGWRITE_THREADS, else all cores but one)."


def load_rows(name: str) -> list[dict]:
    path = BENCHMARKS / name
    if not path.is_file():
        raise SystemExit(f"{path} not found; set LONGWRITE_BENCHMARKS to the folder holding it.")
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def spread_sample(rows: list[dict], count: int) -> list[dict]:
    """`count` rows spread evenly over the rows sorted by required length."""
    rows = sorted(rows, key=lambda r: (r["length"], r["prompt"]))
    if count >= len(rows):
        return rows
    step = len(rows) / count
    return [rows[int(i * step + step / 2)] for i in range(count)]


def write_once(
    backend: Backend,
    instruction: str,
    words: int,
    settings: WriteSettings,
    plan: Plan | None = None,
    seed: int = 0,
):
    """Plan (unless given) and write one piece through the real store; returns (stats, text)."""
    from engine.projects.run import project_document

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        plan_usage = None
        if plan is None:
            plan = draft_plan(backend, instruction, words, seed=seed)
            plan_usage = backend.last_usage
        settings = settings.model_copy(update={"sampling": SamplingSettings(seed=seed)})
        project = store.create_project("bench", instruction, words, settings=settings)
        store.save_plan(project, plan)
        stats = None
        for event in run_project(store, project, backend, plan_usage):
            if isinstance(event, RunFinished):
                stats = event.stats
        text = project_document(store, project).body
        store.close()
    return stats, text, plan
