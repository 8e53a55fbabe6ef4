"""A writing run of a saved project: the writer's events, persisted as they stream.

Both faces (CLI and studio) drive runs through `run_project`, so saving, resuming and the
statistics are the same everywhere. Stopping is closing the generator: the partial section is
saved first, and the run is recorded as stopped.

A two-level plan is written chapter by chapter: a chapter reached without scenes gets them
drafted (and saved as a new plan version), its scenes are written, then the model recaps it and
the recap is stored. Each step is saved as it ends, so a run stopped or killed anywhere resumes
from the step it was in.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.errors import UserError
from engine.export import Document
from engine.metrics import count_words, length_score, repeated_ngram_share
from engine.models.backends.base import Backend, Usage
from engine.planning.book_plan import draft_scenes
from engine.projects.stale import check_current
from engine.schema import Plan, RunStats, SectionStats
from engine.store.database import Autosave, Project, Store, Versions
from engine.store.lock import hold_project
from engine.writing.events import (
    ChapterPlanned,
    ChapterPlanning,
    ContextTrimmed,
    Event,
    RecapFinished,
    RunFinished,
    SectionFinished,
    SectionProgress,
    SectionStarted,
)
from engine.writing.prompt_layout import Brief
from engine.writing.writer import Writer


def project_brief(store: Store, project: Project, plan: Plan, backend: Backend) -> Brief:
    """What every prompt of the project carries, with its chapters' stored recaps."""
    recaps = {chapter_id: recap.text for chapter_id, recap in store.recaps(project).items()}
    return Brief(
        project.instruction,
        plan,
        project.bible,
        tuple(project.settings.style),
        project.settings.style_sample,
        recaps,
        backend.info.context_length,
    )


def project_document(store: Store, project: Project) -> Document:
    """The project's current text as a Document (sections in plan order). A book plan's
    chapters group their written scenes; scene titles are headings when section headings are
    on (else scenes are set apart by breaks), and chapters with nothing written are left out."""
    plan = store.plan(project)
    headings = project.settings.section_headings and plan is not None
    headings = headings and (plan.two_level or len(plan.sections) > 1)
    sections, chapters = [], []
    for section in store.sections(project):
        row = plan.sections[section.idx]
        sections.append((row.title if headings and row.heading else "", section.text))
        chapter = plan.chapter_of(section.idx)
        if chapter is None:
            continue
        if chapters and chapters[-1][0] == chapter.id:
            chapters[-1][2] += 1
        else:
            chapters.append([chapter.id, chapter.title, 1])
    chapter_list = [(title, count) for _, title, count in chapters]
    return Document(project.book_title, sections, chapter_list)


@dataclass
class ResumePoint:
    """Where a run picks up: the finished text of each plan row (None if it has none), and the
    first unfinished row's autosaved partial text with the version holding it."""

    texts: list[str | None]
    partial: str = ""
    partial_version_id: int | None = None

    @property
    def complete(self) -> bool:
        return all(text is not None for text in self.texts)


def resume_point(store: Store, project: Project, plan: Plan) -> ResumePoint:
    current = {s.idx: s for s in store.sections(project, plan)}
    point = ResumePoint([None] * len(plan.sections))
    for index in range(len(plan.sections)):
        section = current.get(index)
        if section is not None and section.status == "done":
            point.texts[index] = section.text
        elif (
            section is not None
            and point.partial_version_id is None
            and not any(text is None for text in point.texts[:index])
        ):
            point.partial, point.partial_version_id = section.text, section.version_id
    return point


def run_project(
    store: Store,
    project: Project,
    backend: Backend,
    plan_usage: Usage | None = None,
    based_on: Versions | None = None,
) -> Iterator[Event | RunFinished]:
    """Write the project's remaining sections, saving as it goes; ends with RunFinished.

    The project is locked for the run: a second writer is refused (engine.store.lock). With
    `based_on` (the versions the writer saw when pressing Write or Resume, perhaps long before a
    queued run starts), the run is refused before it writes anything when the brief, the plan
    or any section's text changed since."""
    with hold_project(store.db.conn, project.id, project.name):
        check_current(store, based_on, project, brief=True, plan=True, all_sections=True)
        yield from _run_locked(store, project, backend, plan_usage)


def _run_locked(
    store: Store, project: Project, backend: Backend, plan_usage: Usage | None
) -> Iterator[Event | RunFinished]:
    plan = store.plan(project)
    if plan is None:
        raise UserError(key="error.no_plan", name=project.name)
    point = resume_point(store, project, plan)
    version_id = point.partial_version_id
    writer = Writer(backend, project_brief(store, project, plan, backend), project.settings)
    run_id = store.start_run(project)
    started = time.perf_counter()
    finished: list[SectionStats] = []
    extra = _ExtraUsage()
    trims = 0
    autosave: Autosave | None = None
    current = point.partial
    status = "stopped"
    if plan.two_level:
        events = _book_events(store, project, backend, writer, point.partial)
    else:
        events = writer.write(point.texts, point.partial)
    try:
        for event in events:
            if isinstance(event, SectionStarted):
                if version_id is None:
                    row = writer.brief.plan.sections[event.index]
                    version_id = store.start_section(project, row.id)
                autosave = Autosave(store, version_id)
            elif isinstance(event, SectionProgress) and autosave:
                current = event.text
                autosave.update(event.text, event.output_tokens)
            elif isinstance(event, SectionFinished) and autosave:
                autosave.finish(event.text, event.stats.output_tokens)
                finished.append(event.stats)
                autosave, version_id, current = None, None, ""
            elif isinstance(event, ContextTrimmed):
                trims += 1
            elif isinstance(event, RecapFinished):
                store.save_recap(project, event.chapter_id, event.text, edited=False)
                extra.recaps.append(event.usage)
            elif isinstance(event, ChapterPlanned):
                extra.scene_plans.append(event.usage)
            yield event
        status = "done"
        plan = store.plan(project) or plan
        stats = _run_stats(
            store, project, plan, finished, plan_usage, time.perf_counter() - started
        )
        extra.add_to(stats)
        stats.context_trims = trims
        stats.device, stats.gpu_layers_offloaded = _placement(backend)
        stats.voice, stats.voice_scale = getattr(backend, "voice", None) or ("", None)
        store.finish_run(project, run_id, status, stats.model_dump())
        yield RunFinished(stats)
    finally:
        if status != "done":
            if autosave is not None:
                store.save_section(autosave.version_id, current, 0, done=False)
            store.finish_run(project, run_id, status, None)


def _book_events(
    store: Store, project: Project, backend: Backend, writer: Writer, partial: str
) -> Iterator[Event | ChapterPlanning | ChapterPlanned]:
    """Chapter by chapter: draft the scenes of a chapter that has none, write the scenes that
    have no text, recap a finished chapter that has no recap. The consumer saves each event
    before this goes on, so every step reads what the steps before it stored."""
    chapter_ids = [chapter.id for chapter in store.plan(project).chapters]
    for chapter_id in chapter_ids:
        plan = store.plan(project)
        if not plan.scenes(chapter_id):
            yield ChapterPlanning(chapter_id)
            brief = project_brief(store, project, plan, backend)
            plan = draft_scenes(backend, brief, chapter_id, project.settings.sampling.seed)
            usage = backend.last_usage
            store.save_plan(project, plan)
            yield ChapterPlanned(chapter_id, len(plan.scenes(chapter_id)), usage)
        writer.use_brief(project_brief(store, project, plan, backend))
        scenes = plan.scene_range(chapter_id)
        texts = resume_point(store, project, plan).texts
        if any(text is None for text in texts[scenes.start : scenes.stop]):
            yield from writer.write(texts, partial, stop=scenes.stop)
            partial = ""
            texts = resume_point(store, project, plan).texts
        if chapter_id not in store.recaps(project):
            yield from writer.write_recap(texts, chapter_id)


@dataclass
class _ExtraUsage:
    """What a book run spent beyond its scenes: scene plans and recaps."""

    scene_plans: list[Usage] = field(default_factory=list)
    recaps: list[Usage] = field(default_factory=list)

    def add_to(self, stats: RunStats) -> None:
        stats.scene_plans = len(self.scene_plans)
        stats.scene_plan_output_tokens = sum(u.output_tokens for u in self.scene_plans)
        stats.scene_plan_prompt_tokens_evaluated = sum(
            u.prompt_tokens_evaluated for u in self.scene_plans
        )
        stats.recaps = len(self.recaps)
        stats.recap_output_tokens = sum(u.output_tokens for u in self.recaps)
        stats.recap_prompt_tokens_evaluated = sum(u.prompt_tokens_evaluated for u in self.recaps)


def _placement(backend: Backend) -> tuple[str, int]:
    """The device a local model runs on and its layers on a GPU; a server's are its own."""
    placement = getattr(backend, "placement", None)
    if placement is None:
        return "server", 0
    return placement.device, placement.gpu_layers


def _run_stats(
    store: Store,
    project: Project,
    plan: Plan,
    sections: list[SectionStats],
    plan_usage: Usage | None,
    wall_s: float,
) -> RunStats:
    body = project_document(store, project).body
    words = count_words(body)
    plan_usage = plan_usage or Usage()
    output = sum(s.output_tokens for s in sections) + plan_usage.output_tokens
    decode_s = sum(s.decode_s for s in sections) + plan_usage.decode_s
    return RunStats(
        words=words,
        target_words=plan.total_words,
        length_score=length_score(plan.total_words, words),
        sections=len(plan.sections),
        output_tokens=output,
        prompt_tokens_sent=sum(s.prompt_tokens_sent for s in sections)
        + plan_usage.prompt_tokens_sent,
        prompt_tokens_evaluated=sum(s.prompt_tokens_evaluated for s in sections)
        + plan_usage.prompt_tokens_evaluated,
        first_prompt_tokens=sections[0].prompt_tokens_sent if sections else 0,
        wall_s=round(wall_s + plan_usage.prompt_s + plan_usage.decode_s, 2),
        decode_tokens_per_s=round(output / decode_s, 1) if decode_s else 0.0,
        repeated_8gram_share=repeated_ngram_share(body),
        retries=sum(s.retries for s in sections),
        context_trims=0,
        mode=project.settings.mode,
        model=project.model.model_name or project.model.model_path or "embedded",
        per_section=sections,
    )
