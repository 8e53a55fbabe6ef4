"""Answering benchmark rows with the engine, each answer a project in the run's own store.

A row's project is named after the row, so a run stopped in the middle of an answer resumes
that answer from its last autosave (the engine's resume), not from scratch.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import UserError
from engine.models.backends import Backend, Usage
from engine.models.settings import LoadSettings
from engine.planning.plan import draft_plan, rescale, section_bounds
from engine.projects.run import project_document, run_project
from engine.schema import Mode, Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Project, Store
from engine.writing.events import RunFinished, SectionFinished, SectionProgress
from training.eval.benchmark import BenchmarkRow


@dataclass
class Answer:
    text: str
    sections: int
    output_tokens: int
    seconds: float
    plan_fallback: bool = False


class Answerer:
    """Writes answers in one mode with one backend, saving them in `store`."""

    def __init__(self, backend: Backend, store: Store, mode: Mode, model: LoadSettings):
        self.backend = backend
        self.store = store
        self.mode = mode
        self.model = model

    def answer(
        self, row: BenchmarkRow, progress: Callable[[int], None] = lambda _words: None
    ) -> Answer:
        """The answer to a row (continuing a saved partial one); `progress` gets its word count."""
        started = time.perf_counter()
        project, plan_usage = self._project(row)
        plan_fallback = self.store.plan(project).sections[0].title == _FALLBACK_TITLE
        if project.status != "done":
            finished_words = 0
            events = run_project(self.store, project, self.backend, plan_usage)
            try:
                for event in events:
                    if isinstance(event, SectionProgress):
                        progress(finished_words + event.words)
                    elif isinstance(event, SectionFinished):
                        finished_words += event.stats.words
                    elif isinstance(event, RunFinished):
                        break
            finally:
                events.close()
        sections = self.store.sections(project)
        return Answer(
            text=project_document(self.store, project).body,
            sections=len(sections),
            output_tokens=sum(section.output_tokens for section in sections),
            seconds=round(time.perf_counter() - started, 2),
            plan_fallback=plan_fallback,
        )

    def _project(self, row: BenchmarkRow) -> tuple[Project, Usage | None]:
        """The row's saved project, or a new one with a drafted (or single-section) plan."""
        name = f"row-{row.id}"
        if self.store.unique_name(name) != name:
            return self.store.project(name), None
        plan_usage = None
        if self.mode == "agentwrite":
            plan = self._draft(row)
            plan_usage = self.backend.last_usage
        else:
            plan = Plan(
                sections=[PlanSection(title=name, main_point=row.prompt[:4000], words=row.length)]
            )
        settings = WriteSettings(mode=self.mode, sampling=SamplingSettings(seed=row.id))
        project = self.store.create_project(name, row.prompt, row.length, "", settings, self.model)
        self.store.save_plan(project, plan)
        return project, plan_usage

    def _draft(self, row: BenchmarkRow) -> Plan:
        """A drafted plan; after two failed drafts, even parts that each restate the task."""
        for seed in (row.id, row.id + 1000):
            try:
                return draft_plan(self.backend, row.prompt, row.length, seed=seed)
            except UserError:
                continue
        parts = section_bounds(row.length)[0]
        rows = [
            PlanSection(title=_FALLBACK_TITLE, main_point=row.prompt[:4000], words=1)
            for _ in range(parts)
        ]
        return rescale(Plan(sections=rows), row.length)


_FALLBACK_TITLE = "Part"
