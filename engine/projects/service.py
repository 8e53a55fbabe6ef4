"""The project service: what the command line and the studio both do with a project.

Creating a project, the one-row plan of single-pass mode, checking a brief, editing plan rows,
exporting every format, following a run's progress and the overview of a project's sections and
runs live here once, so the two faces cannot drift apart.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from engine.errors import UserError
from engine.export import FORMATS, export_document
from engine.metrics import count_words
from engine.models.settings import LoadSettings
from engine.planning.book_plan import rescale_book
from engine.planning.plan import check_request, rescale
from engine.projects.run import project_document
from engine.schema import (
    MAX_BIBLE_CHARS,
    MAX_SCENES_PER_CHAPTER,
    MAX_SECTION_WORDS,
    MAX_SECTIONS,
    Plan,
    PlanSection,
    WriteSettings,
)
from engine.store.database import Project, Store
from engine.store.safe_names import file_stem
from engine.writing.events import RunFinished, SectionFinished, SectionProgress, SectionStarted


def create_project(
    store: Store,
    name: str,
    instruction: str,
    target_words: int,
    bible: str = "",
    settings: WriteSettings | None = None,
    model: LoadSettings | None = None,
    plan: Plan | None = None,
) -> Project:
    """A new project with its brief checked and, when given, its first plan saved."""
    check_bible(bible)
    if target_words <= 0:
        raise UserError(key="error.total_positive")
    project = store.create_project(name, instruction, target_words, bible, settings, model)
    if plan is not None:
        store.save_plan(project, plan)
    return project


def check_bible(bible: str) -> None:
    if len(bible or "") > MAX_BIBLE_CHARS:
        raise UserError(key="error.bible_long", length=len(bible), most=MAX_BIBLE_CHARS)


def check_brief(instruction: str, bible: str, target_words: int) -> None:
    """Everything a brief needs before a plan can be drafted or a piece written from it."""
    check_bible(bible)
    check_request(instruction, target_words)


def name_from_instruction(instruction: str) -> str:
    """A project name from an instruction's first words."""
    words = instruction.split()
    return " ".join(words[:6])[:60] or "untitled"


def single_pass_plan(title: str, instruction: str, target_words: int) -> Plan:
    """Single-pass mode's plan: one row asking for the whole piece."""
    if target_words > MAX_SECTION_WORDS:
        raise UserError(key="error.single_too_long", words=target_words, most=MAX_SECTION_WORDS)
    point = (instruction.strip() or title)[:4000]
    return Plan(sections=[PlanSection(title=title[:200], main_point=point, words=target_words)])


def fit_plan(plan: Plan, total_words: int) -> Plan:
    """The plan scaled to total_words (a book plan by its chapters), unchanged if it fits."""
    if plan.total_words == total_words:
        return plan
    return rescale_book(plan, total_words) if plan.two_level else rescale(plan, total_words)


def insert_row(plan: Plan, after: int, row: PlanSection) -> Plan:
    """The plan with `row` inserted after row `after` (1-based; 0 puts it first). In a book
    plan the row becomes a scene of the chapter of the row before it (of the first chapter
    with scenes when it goes first)."""
    if not 0 <= after <= len(plan.sections):
        raise UserError(key="error.insert_after", count=len(plan.sections))
    if not plan.two_level:
        if len(plan.sections) >= MAX_SECTIONS:
            raise UserError(key="error.plan_full", most=MAX_SECTIONS)
        return Plan(sections=[*plan.sections[:after], row, *plan.sections[after:]])
    neighbour = plan.sections[max(after - 1, 0)] if plan.sections else None
    chapter = neighbour.chapter if neighbour else plan.chapters[0].id
    if len(plan.scenes(chapter)) >= MAX_SCENES_PER_CHAPTER:
        title = plan.chapters[plan.chapter_index(chapter)].title
        raise UserError(key="error.chapter_full", title=title, most=MAX_SCENES_PER_CHAPTER)
    scene = row.model_copy(update={"chapter": chapter})
    sections = [*plan.sections[:after], scene, *plan.sections[after:]]
    return Plan.model_validate(
        {**plan.model_dump(), "sections": [s.model_dump() for s in sections]}
    )


def continue_from(store: Store, project: Project, index: int) -> None:
    """Make the sections from plan row `index` (0-based) on unwritten, so the next run writes
    them again after the ones before; their versions stay in each section's history."""
    plan = store.plan(project)
    if plan is None or not 0 <= index < len(plan.sections):
        count = len(plan.sections) if plan else 0
        raise UserError(key="error.continue_from", count=count)
    store.drop_sections_from(project, index)
    if plan.two_level:  # the recaps from that scene's chapter on tell what is rewritten
        first = plan.chapter_index(plan.sections[index].chapter)
        recaps = store.recaps(project)
        for chapter in plan.chapters[first:]:
            if chapter.id in recaps and not recaps[chapter.id].edited:
                store.save_recap(project, chapter.id, "", edited=False)
    store.touch_project(project)


def export_files(
    store: Store, project: Project, folder: Path, formats: tuple[str, ...] = FORMATS
) -> dict[str, Path]:
    """Write the project's current text in each format into `folder`; {} when nothing is written."""
    document = project_document(store, project)
    if not document.body.strip():
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"{file_stem(project.name)}.{fmt}" for fmt in formats}
    for fmt, path in paths.items():
        export_document(document, fmt, path)
    return paths


@dataclass
class ProgressSnapshot:
    section: int  # 1-based
    count: int
    words: int
    target: int
    tokens_per_s: float
    eta_s: float | None


@dataclass
class Progress:
    """Words written, speed and time left of a run, followed from the writer's events.

    `done_words` holds the words of each finished row (by plan position) before the run; a row
    being rewritten counts with its new text only."""

    target: int
    done_words: dict[int, int] = field(default_factory=dict)
    count: int = 1
    _section: int = 0
    _section_words: int = 0
    _section_started: float = field(default_factory=time.perf_counter)
    _run_started: float = field(default_factory=time.perf_counter)
    _run_words: int = 0
    _tokens_per_s: float = 0.0

    def update(self, event: object) -> ProgressSnapshot | None:
        """Take one event; a snapshot when it changed what the progress shows."""
        if isinstance(event, SectionStarted):
            self._section, self.count = event.index, event.count
            self._section_words, self._section_started = 0, time.perf_counter()
            self.done_words.pop(event.index, None)
            return self.snapshot()
        if isinstance(event, SectionProgress):
            self._section_words = event.words
            elapsed = max(time.perf_counter() - self._section_started, 1e-6)
            self._tokens_per_s = event.output_tokens / elapsed
            return self.snapshot()
        if isinstance(event, SectionFinished):
            self.done_words[event.index] = event.stats.words
            self._run_words += event.stats.words
            self._section_words = 0
            return self.snapshot()
        if isinstance(event, RunFinished):
            return self.snapshot()
        return None

    @property
    def words(self) -> int:
        return sum(self.done_words.values()) + self._section_words

    def snapshot(self) -> ProgressSnapshot:
        elapsed = max(time.perf_counter() - self._run_started, 1e-6)
        rate = (self._run_words + self._section_words) / elapsed
        left = max(self.target - self.words, 0)
        return ProgressSnapshot(
            self._section + 1,
            self.count,
            self.words,
            self.target,
            self._tokens_per_s,
            left / rate if rate > 0 else None,
        )


def finished_words(store: Store, project: Project) -> dict[int, int]:
    """Words of each finished section by plan position (what a Progress starts from)."""
    return {s.idx: count_words(s.text) for s in store.sections(project) if s.status == "done"}


class SectionOverview(BaseModel):
    """One plan row and its current text: `words`, `status` ("done", "writing" or "unwritten"),
    `version_id` (None when unwritten) and how many versions its history holds."""

    position: int  # 1-based
    section_id: str
    chapter_id: str | None = None  # a book plan's scenes name their chapter
    title: str
    main_point: str
    target_words: int
    words: int
    status: str
    version_id: int | None
    versions: int


class ChapterOverview(BaseModel):
    """A chapter of a book plan: its target (its scenes' words once it has scenes), the words
    written, how many scenes it has (0 until they are drafted) and its recap ("" for none)."""

    position: int  # 1-based
    chapter_id: str
    title: str
    summary: str
    target_words: int
    words: int
    scenes: int
    recap: str
    recap_edited: bool


class RunOverview(BaseModel):
    """One writing run; `words` and `length_score` come from a finished run's statistics."""

    id: int
    started_at: str
    finished_at: str | None
    status: str
    words: int | None
    length_score: float | None


class ProjectOverview(BaseModel):
    """What `longwrite projects show` prints: the plan rows with their text, and the runs."""

    name: str
    status: str
    words: int
    target_words: int
    created_at: str
    updated_at: str
    plan_version: int | None
    chapters: list[ChapterOverview] = []
    sections: list[SectionOverview]
    runs: list[RunOverview]


def project_overview(store: Store, project: Project) -> ProjectOverview:
    plan = store.plan(project)
    current = {s.section_id: s for s in store.sections(project, plan)}
    versions = store.version_counts(project)
    sections = []
    for position, row in enumerate(plan.sections if plan else [], start=1):
        text = current.get(row.id)
        sections.append(
            SectionOverview(
                position=position,
                section_id=row.id,
                chapter_id=row.chapter,
                title=row.title,
                main_point=row.main_point,
                target_words=row.words,
                words=count_words(text.text) if text else 0,
                status=text.status if text else "unwritten",
                version_id=text.version_id if text else None,
                versions=versions.get(row.id, 0),
            )
        )
    recaps = store.recaps(project)
    chapters = [
        ChapterOverview(
            position=position,
            chapter_id=chapter.id,
            title=chapter.title,
            summary=chapter.summary,
            target_words=plan.chapter_words(chapter),
            words=sum(s.words for s in sections if s.chapter_id == chapter.id),
            scenes=len(plan.scenes(chapter.id)),
            recap=recaps[chapter.id].text if chapter.id in recaps else "",
            recap_edited=chapter.id in recaps and recaps[chapter.id].edited,
        )
        for position, chapter in enumerate(plan.chapters if plan else [], start=1)
    ]
    runs = [
        RunOverview(
            id=run.id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            status=run.status,
            words=(run.stats or {}).get("words"),
            length_score=(run.stats or {}).get("length_score"),
        )
        for run in store.runs(project)
    ]
    plan_versions = store.plan_versions(project)
    return ProjectOverview(
        name=project.name,
        status=project.status,
        words=sum(s.words for s in sections),
        target_words=project.target_words,
        created_at=project.created_at,
        updated_at=project.updated_at,
        plan_version=plan_versions[-1][0] if plan_versions else None,
        chapters=chapters,
        sections=sections,
        runs=runs,
    )
