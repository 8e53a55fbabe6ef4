"""The Write tab: write, stop, resume and start over; the streaming document; exports.

Streaming cost does not grow with the document: finished sections are rendered once and
appended, and only the active section is re-sent (as text that only grows). Export files are
built when a download is asked for, never on opening a project. A two-level piece's document
groups the text by chapter, each ending with its recap; the progress line follows the run
through chapters (scenes drafted, recaps written) and names the bible entries a scene uses.
"""

import functools
from collections.abc import Iterator

import gradio as gr

from app.studio import render
from app.studio.brief_plan import save_brief
from app.studio.events import GENERATING, INSTANT, user_errors, user_errors_stream
from app.studio.language import info, label, t
from app.studio.state import Studio
from engine.errors import UserError
from engine.metrics import count_words
from engine.projects.run import resume_point, run_project
from engine.projects.service import (
    Progress,
    check_brief,
    export_files,
    finished_words,
    single_pass_plan,
)
from engine.schema import Plan
from engine.store.database import Project, Recap
from engine.writing.events import (
    ChapterPlanned,
    ChapterPlanning,
    Ended,
    Failed,
    LoopCut,
    RecapFinished,
    RecapStarted,
    RunFinished,
    SectionFinished,
    SectionProgress,
    SectionStarted,
)

EXPORT_LABELS = {"md": "Markdown", "html": "HTML", "docx": "DOCX", "epub": "EPUB"}


def layout(w) -> None:
    with gr.Row():
        w.write = gr.Button(label("write.write"), variant="primary", elem_id="write")
        w.stop = gr.Button(label("write.stop"), variant="stop", elem_id="stop")
        w.resume = gr.Button(label("write.resume"), elem_id="resume")
        w.start_over = gr.Button(label("write.start_over"), elem_id="start-over")
    w.progress = gr.Markdown(elem_id="progress")
    w.document = gr.HTML(elem_id="document")
    w.active_heading = gr.HTML(elem_id="active-heading")
    w.active = gr.HTML(
        elem_id="active-section", html_template='<div class="lw-active">${value}</div>'
    )
    with gr.Row():
        w.exports = {
            fmt: gr.Button(label(f"write.export_{fmt}"), elem_id=f"export-{fmt}", size="sm")
            for fmt in EXPORT_LABELS
        }
    w.export_file = gr.File(label=label("write.export_file"), elem_id="export-file", visible=False)


def plan_write_layout(w) -> None:
    """The Plan tab's last step: Write from here."""
    w.plan_write = gr.Button(label("write.write"), variant="primary", elem_id="plan-write")


# -- what shows a project ---------------------------------------------------------------------
def view_components(w) -> list:
    return [w.document, w.active_heading, w.active, w.progress, w.export_file]


def view_of(studio: Studio, w, project: Project | None) -> dict:
    hidden_file = gr.update(value=None, visible=False)
    if project is None:
        return {
            w.document: render.empty_document(),
            w.active_heading: "",
            w.active: "",
            w.progress: "",
            w.export_file: hidden_file,
        }
    plan = studio.store.plan(project)
    document, partial = document_html(studio, project, plan)
    heading = render.stopped_heading(partial[0], len(plan.sections)) if partial else ""
    return {
        w.document: document,
        w.active_heading: heading,
        w.active: render.active_text(partial[1] if partial else ""),
        w.progress: progress_at_rest(studio, project, plan, partial),
        w.export_file: hidden_file,
    }


def _titles(project: Project, plan: Plan | None) -> list[str]:
    """Section headings shown in the document ("" each when headings are off)."""
    rows = plan.sections if plan else []
    headings = project.settings.section_headings and len(rows) > 1
    return [row.title if headings and row.heading else "" for row in rows]


def document_html(
    studio: Studio, project: Project, plan: Plan | None
) -> tuple[str, tuple[int, str] | None]:
    """Finished sections' HTML, and the row and text of a section stopped part-way (if any)."""
    finished, partial = {}, None
    for section in studio.store.sections(project, plan):
        if section.status == "done":
            finished[section.section_id] = section.text
        elif section.text.strip() and partial is None:
            partial = (section.idx, section.text)
    recaps = studio.store.recaps(project) if plan is not None and plan.two_level else {}
    return compose(project, plan, finished, recaps), partial


def compose(
    project: Project, plan: Plan | None, finished: dict[str, str], recaps: dict[str, Recap]
) -> str:
    """The document: the finished texts (by section id) in plan order, grouped by chapter with
    their recaps in a two-level plan (a chapter shows once it has text or a recap)."""
    if plan is None:
        return render.empty_document()
    titles = _titles(project, plan)
    shown = [
        (i, titles[i], finished[s.id]) for i, s in enumerate(plan.sections) if s.id in finished
    ]
    if not plan.two_level:
        return render.document_html(shown)
    chapters = {
        c.id: render.ChapterView(number, c.title) for number, c in enumerate(plan.chapters, 1)
    }
    for i, title, text in shown:
        chapters[plan.sections[i].chapter].sections.append((i, title, text))
    for chapter_id, recap in recaps.items():
        if chapter_id in chapters:
            chapters[chapter_id].recap, chapters[chapter_id].edited = recap.text, recap.edited
    return render.book_html([c for c in chapters.values() if c.sections or c.recap])


def progress_at_rest(
    studio: Studio, project: Project, plan: Plan | None, partial: tuple[int, str] | None
) -> str:
    if plan is None:
        return t("write.no_plan")
    sections = studio.store.sections(project, plan)
    written = sum(count_words(s.text) for s in sections)
    line = t(
        "write.at_rest",
        written=f"{written:,}",
        total=f"{plan.total_words:,}",
        status=project.status,
    )
    empty = len(plan.sections) - sum(1 for s in sections if s.status == "done")
    if partial:
        line += t("write.at_rest_partial", number=partial[0] + 1)
    elif sections and empty:
        line += t("write.at_rest_empty", count=empty)
    return line


# -- writing ----------------------------------------------------------------------------------
def write(
    studio: Studio, w, resume: bool, project_id, instruction, bible, total, single
) -> Iterator[dict]:
    """Write (or resume) the project from its saved plan, streaming into the document.

    The plan is read from the store when the run starts, so a Write pressed while a plan is
    still drafting waits in the queue and then writes the new plan."""
    project = save_brief(studio, project_id, instruction, bible, total, single)
    if project is None:
        raise UserError(key="error.open_project")
    store = studio.store
    if single:
        plan = _single_pass_plan(studio, project)
    else:
        plan = store.plan(project)
        if plan is None:
            raise UserError(key="error.plan_empty_write")
    check_brief(project.instruction, project.bible, plan.total_words)
    point = resume_point(store, project, plan)
    has_text = bool(point.partial) or any(text is not None for text in point.texts)
    if not resume and has_text:
        raise UserError(key="error.has_text")
    if resume and point.complete and not _recaps_missing(studio, project, plan):
        info("write.all_written")
        return

    def start(store, backend):
        return run_project(store, store.project_by_id(project.id), backend)

    yield from stream_run(studio, w, project, plan, start)


def _recaps_missing(studio: Studio, project: Project, plan: Plan) -> bool:
    """Whether a two-level piece has a chapter without a recap (a run writes them)."""
    recaps = studio.store.recaps(project)
    return plan.two_level and any(c.id not in recaps for c in plan.chapters)


def _single_pass_plan(studio: Studio, project: Project) -> Plan:
    """The one-row plan of single-pass mode, saved when it differs from the stored plan; a
    stored one-row plan keeps its id (and so its text)."""
    stored = studio.store.plan(project)
    plan = single_pass_plan(project.name, project.instruction, project.target_words)
    if stored is not None and len(stored.sections) == 1:
        row = plan.sections[0].model_copy(update={"id": stored.sections[0].id})
        plan = Plan(sections=[row])
    elif stored is not None:
        info("write.single_saved")
    if plan != stored:
        studio.store.save_plan(project, plan)
    return plan


def _chapter_line(key: str, plan: Plan, chapter_id: str, **params) -> str:
    number = plan.chapter_index(chapter_id) + 1
    return t(key, number=number, count=len(plan.chapters), **params)


def stream_run(studio: Studio, w, project: Project, plan: Plan, start) -> Iterator[dict]:
    """Follow a writing job: finished sections join the document, the active one streams.

    The document is composed again only when a section or recap ends (from cached section
    HTML); while a section streams, only its own text is sent."""
    store = studio.store
    finished = {s.section_id: s.text for s in store.sections(project, plan) if s.status == "done"}
    recaps = store.recaps(project) if plan.two_level else {}
    document = compose(project, plan, finished, recaps)
    progress = Progress(plan.total_words, finished_words(store, project))
    heading, text, line = "", "", t("write.waiting")
    active: int | None = None
    used: tuple[str, ...] = ()  # the bible entries the active section's prompt carries
    done = None  # the closing line with the run's statistics, once it came
    for batch in studio.follow(project, start):
        for event in batch:
            snapshot = progress.update(event)
            if isinstance(event, SectionProgress) and snapshot is not None:
                text = event.text
                line = render.progress_line(
                    snapshot.section,
                    snapshot.count,
                    snapshot.words,
                    snapshot.target,
                    snapshot.tokens_per_s,
                    snapshot.eta_s,
                )
                if plan.two_level and active is not None and active < len(plan.sections):
                    line = _chapter_line(
                        "write.in_chapter", plan, plan.sections[active].chapter, line=line
                    )
                if used:
                    line += t("write.bible_used", names=", ".join(used))
            elif isinstance(event, SectionStarted):
                inside = event.index < len(plan.sections)
                title = plan.sections[event.index].title if inside else ""
                heading = render.active_heading(event.index, event.count, title or project.name)
                text, active, used = "", event.index, tuple(event.bible)
            elif isinstance(event, SectionFinished):
                finished[plan.sections[event.index].id] = event.text
                document = compose(project, plan, finished, recaps)
                heading, text = "", ""
            elif isinstance(event, ChapterPlanning):
                line = _chapter_line("write.chapter_planning", plan, event.chapter_id)
            elif isinstance(event, ChapterPlanned):
                plan = studio.store.plan(project)  # new scene rows; this thread's connection
                line = _chapter_line(
                    "write.chapter_planned", plan, event.chapter_id, scenes=event.scenes
                )
            elif isinstance(event, RecapStarted):
                line = _chapter_line("write.recap_started", plan, event.chapter_id)
            elif isinstance(event, RecapFinished):
                recaps[event.chapter_id] = Recap(event.chapter_id, event.text, False)
                document = compose(project, plan, finished, recaps)
                line = _chapter_line("write.recap_finished", plan, event.chapter_id)
            elif isinstance(event, LoopCut):
                info("write.loop_cut", number=event.index + 1, words=event.kept_words)
            elif isinstance(event, RunFinished):
                stats = event.stats
                line = done = t(
                    "write.done_stats",
                    words=f"{stats.words:,}",
                    target=f"{stats.target_words:,}",
                    score=f"{stats.length_score:.1f}",
                    speed=stats.decode_tokens_per_s,
                    seconds=f"{stats.wall_s:.0f}",
                )
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Ended):
                if event.stopped:
                    line = t("write.stopped")
                    if heading and active is not None:
                        heading = render.stopped_heading(active, progress.count)
                elif heading == "" and line != done:
                    line = t("write.done_words", words=f"{progress.words:,}")
        yield {
            w.document: document,
            w.active_heading: heading,
            w.active: render.active_text(text),
            w.progress: line,
        }


def refresh_at_rest(studio: Studio, w, project_id) -> dict:
    """The Write tab as it is now (after plan edits elsewhere), unless a generation streams."""
    if project_id is None:
        return {}
    project = studio.project(project_id)
    if studio.busy(project):
        return {}
    return view_of(studio, w, project)


def stop(studio: Studio, project_id) -> None:
    if project_id is None:
        return
    studio.stop(project_id)
    info("write.stopping")


def start_over(studio: Studio, w, project_id) -> dict:
    project = studio.project(project_id)
    if studio.busy(project):
        raise UserError(key="error.stop_first")
    studio.store.drop_sections_from(project, 0)
    studio.store.touch_project(project)
    info("write.cleared")
    return view_of(studio, w, studio.project(project_id))


def export(studio: Studio, w, fmt: str, project_id) -> dict:
    """Build one export file now and offer it for download."""
    project = studio.project(project_id)
    folder = studio.export_dir / str(project.id)
    paths = export_files(studio.store, project, folder, (fmt,))
    if not paths:
        raise UserError(key="error.nothing_to_export")
    info("write.exported", name=project.name, format=EXPORT_LABELS[fmt])
    return {w.export_file: gr.update(value=str(paths[fmt]), visible=True)}


def hide_file() -> dict:
    return gr.update(value=None, visible=False)


# the download starts by itself once the new file's link is on the page
CLICK_DOWNLOAD = """async () => {
  for (let i = 0; i < 100; i++) {
    const link = document.querySelector('#export-file a[download]');
    if (link) { link.click(); return; }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}"""


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w, demo: gr.Blocks, after_run: list) -> None:
    """`after_run` are the handlers' (fn, inputs, outputs) that refresh other features once a
    generation or edit ends (project list, section menu, length view)."""
    brief = [w.project_id, w.instruction, w.bible, w.total, w.single]
    stream = [w.document, w.active_heading, w.active, w.progress]
    to_write_tab = w.plan_write.click(
        lambda: gr.update(selected="write-tab"), None, [w.tabs], **INSTANT
    )
    for start, resume in (
        (w.write.click, False),
        (w.resume.click, True),
        (to_write_tab.then, False),
    ):
        event = start(studio.arm, [w.project_id], None, **INSTANT).then(
            user_errors_stream(functools.partial(write, studio, w, resume)),
            brief,
            stream,
            show_progress_on=[w.progress],
            **GENERATING,
        )
        for fn, inputs, outputs in after_run:
            event.then(user_errors(fn), inputs, outputs, **INSTANT)
    w.stop.click(functools.partial(stop, studio), [w.project_id], None, **INSTANT)
    w.write_tab.select(
        user_errors(functools.partial(refresh_at_rest, studio, w)),
        [w.project_id],
        view_components(w),
        **INSTANT,
    )
    w.start_over.click(
        user_errors(functools.partial(start_over, studio, w)),
        [w.project_id],
        view_components(w),
        **INSTANT,
    )
    for fmt, button in w.exports.items():
        button.click(hide_file, None, [w.export_file], **INSTANT).then(
            user_errors(functools.partial(export, studio, w, fmt)),
            [w.project_id],
            [w.export_file],
            **INSTANT,
        ).success(None, None, None, js=CLICK_DOWNLOAD)
