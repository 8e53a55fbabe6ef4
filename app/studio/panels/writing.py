"""The Write tab: write, stop, resume and start over; the streaming document; exports.

Every generation streams into the run display laid out here (app.studio.service runs them).
Export files are built when a download is asked for, never on opening a project. A two-level
piece's document groups the text by chapter, each ending with its recap.
"""

import functools
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from app.studio import render, service
from app.studio.events import INSTANT, user_errors
from app.studio.feature import NoRefreshAfterRun, RunDisplay, Shared
from app.studio.language import info, label, t
from app.studio.service import CLICK_DOWNLOAD, hide_file
from app.studio.state import Studio
from engine.errors import UserError
from engine.metrics import count_words
from engine.projects import service as projects
from engine.projects.service import export_files
from engine.schema import Plan
from engine.store.database import Project

EXPORT_LABELS = {"md": "Markdown", "html": "HTML", "docx": "DOCX", "epub": "EPUB"}


@dataclass
class WritingWidgets(NoRefreshAfterRun):
    """The Write tab: its buttons, the run display (document, active section, progress) that
    every generation streams into, and the exports."""

    write: gr.Button
    stop: gr.Button
    resume: gr.Button
    start_over: gr.Button
    confirm_box: gr.Group  # Start over asks first
    confirm_start_over: gr.Button
    cancel_start_over: gr.Button
    undo_start_over: gr.Button  # shown after a start over: brings every text back
    headings: gr.Checkbox  # scene (section) titles as headings, or scenes set apart by breaks
    run: RunDisplay
    exports: dict[str, gr.Button]
    export_file: gr.File

    def view_components(self) -> list[Component]:
        return [
            *self.run.components(),
            self.export_file,
            self.confirm_box,
            self.undo_start_over,
            self.headings,
        ]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return view_of(studio, self, project)

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared)


def layout() -> WritingWidgets:
    with gr.Row():
        write = gr.Button(label("write.write"), variant="primary", elem_id="write")
        stop = gr.Button(label("write.stop"), elem_id="stop")  # red while the page's job runs
        resume = gr.Button(label("write.resume"), elem_id="resume")
        start_over = gr.Button(label("write.start_over"), elem_id="start-over")
    with gr.Group(visible=False, elem_id="start-over-confirm") as confirm_box:
        gr.Markdown(label("write.start_over_ask"))
        with gr.Row():
            confirm_start_over = gr.Button(
                label("write.start_over_yes"), variant="stop", elem_id="start-over-yes"
            )
            cancel_start_over = gr.Button(label("write.start_over_no"), elem_id="start-over-no")
    undo_start_over = gr.Button(
        label("write.start_over_undo"), visible=False, elem_id="start-over-undo"
    )
    progress = gr.Markdown(elem_id="progress")
    document = gr.HTML(elem_id="document")
    active_heading = gr.HTML(elem_id="active-heading")
    active = gr.HTML(
        elem_id="active-section", html_template='<div class="lw-active">${value}</div>'
    )
    with gr.Row():
        headings = gr.Checkbox(
            label=label("write.section_headings"), value=True, elem_id="section-headings"
        )
        exports = {
            fmt: gr.Button(label(f"write.export_{fmt}"), elem_id=f"export-{fmt}", size="sm")
            for fmt in EXPORT_LABELS
        }
    export_file = gr.File(label=label("write.export_file"), elem_id="export-file", visible=False)
    return WritingWidgets(
        write=write,
        stop=stop,
        resume=resume,
        start_over=start_over,
        confirm_box=confirm_box,
        confirm_start_over=confirm_start_over,
        cancel_start_over=cancel_start_over,
        undo_start_over=undo_start_over,
        headings=headings,
        run=RunDisplay(document, active_heading, active, progress, stop),
        exports=exports,
        export_file=export_file,
    )


# -- what shows a project ---------------------------------------------------------------------
def view_of(studio: Studio, w: WritingWidgets, project: Project | None) -> dict:
    hidden_file = gr.update(value=None, visible=False)
    asked = {w.confirm_box: gr.update(visible=False), w.undo_start_over: gr.update(visible=False)}
    if project is None:
        return {
            w.run.document: render.empty_document(),
            w.run.active_heading: "",
            w.run.active: "",
            w.run.progress: "",
            w.export_file: hidden_file,
            w.headings: True,
            **asked,
        }
    plan = studio.store.plan(project)
    document, partial = service.document_html(studio, project, plan)
    heading = render.stopped_heading(partial[0], len(plan.sections)) if partial else ""
    return {
        w.run.document: document,
        w.run.active_heading: heading,
        w.run.active: render.active_text(partial[1] if partial else ""),
        w.run.progress: progress_at_rest(studio, project, plan, partial),
        w.export_file: hidden_file,
        w.headings: project.settings.section_headings,
        **asked,
    }


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


def refresh_at_rest(studio: Studio, w: WritingWidgets, project_id) -> dict:
    """The Write tab as it is now (after plan edits elsewhere), unless a generation streams."""
    if project_id is None:
        return {}
    project = studio.project(project_id)
    if studio.busy(project):
        return {}
    return view_of(studio, w, project)


def stop(studio: Studio, page: str, project_id) -> None:
    """Stop the job this page pressed for (running or waiting), never another page's."""
    if project_id is None:
        return
    studio.stop(page, int(project_id))
    info("write.stopping")


def start_over(studio: Studio, w: WritingWidgets, project_id, request: gr.Request = None) -> dict:
    """Set every section's text aside (confirmed first): the texts stay in history, refused
    when the text changed since the page showed it; Undo brings them all back."""
    project = studio.project(project_id)
    if studio.busy(project):
        raise UserError(key="error.stop_first")
    service.checked(
        studio,
        service.page_of(request),
        project,
        lambda based_on: projects.start_over(studio.store, project, based_on),
        all_sections=True,
    )
    info("write.cleared")
    view = view_of(studio, w, studio.project(project_id))
    return {**view, w.undo_start_over: gr.update(visible=True)}


def undo_start_over(
    studio: Studio, w: WritingWidgets, project_id, request: gr.Request = None
) -> dict:
    """Bring back every text the last start over set aside."""
    project = studio.project(project_id)
    if studio.busy(project):
        raise UserError(key="error.stop_first")
    count = service.checked(
        studio,
        service.page_of(request),
        project,
        lambda based_on: projects.undo_start_over(studio.store, project, based_on),
        all_sections=True,
    )
    info("write.start_over_undone", sections=count)
    return view_of(studio, w, studio.project(project_id))


def set_headings(
    studio: Studio, w: WritingWidgets, project_id, on, request: gr.Request = None
) -> dict:
    """Scene titles as headings (on) or scene breaks (off), in the document and the exports:
    a brief write, refused when another tab changed the brief since the page showed it."""
    if project_id is None:
        return {}
    project = studio.project(project_id)
    if project.settings.section_headings == bool(on):
        return {}
    service.checked(
        studio,
        service.page_of(request),
        project,
        lambda based_on: projects.set_section_headings(studio.store, project, bool(on), based_on),
        brief=True,
    )
    project = studio.project(project_id)
    document, _ = service.document_html(studio, project, studio.store.plan(project))
    return {w.run.document: document}


def export(studio: Studio, w: WritingWidgets, fmt: str, project_id) -> dict:
    """Build one export file now and offer it for download."""
    project = studio.project(project_id)
    folder = studio.export_dir / str(project.id)
    paths = export_files(studio.store, project, folder, (fmt,))
    if not paths:
        raise UserError(key="error.nothing_to_export")
    info("write.exported", name=project.name, format=EXPORT_LABELS[fmt])
    return {w.export_file: gr.update(value=str(paths[fmt]), visible=True)}


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: WritingWidgets, shared: Shared) -> None:
    project_id = shared.open.project_id
    service.write_events(studio, shared, ((w.write.click, False), (w.resume.click, True)))

    def stop_here(project_id, request: gr.Request) -> None:
        stop(studio, (request.session_hash or "") if request else "", project_id)

    w.stop.click(user_errors(stop_here), [project_id], None, **INSTANT)
    shared.write_tab.select(
        user_errors(functools.partial(refresh_at_rest, studio, w)),
        [project_id],
        w.view_components(),
        **INSTANT,
    )
    w.start_over.click(
        lambda project_id: gr.update(visible=project_id is not None),
        [project_id],
        [w.confirm_box],
        **INSTANT,
    )
    w.cancel_start_over.click(lambda: gr.update(visible=False), None, [w.confirm_box], **INSTANT)
    w.confirm_start_over.click(
        user_errors(functools.partial(start_over, studio, w)),
        [project_id],
        w.view_components(),
        **INSTANT,
    )
    w.undo_start_over.click(
        user_errors(functools.partial(undo_start_over, studio, w)),
        [project_id],
        w.view_components(),
        **INSTANT,
    )
    w.headings.input(
        user_errors(functools.partial(set_headings, studio, w)),
        [project_id, w.headings],
        [w.run.document],
        **INSTANT,
    )
    for fmt, button in w.exports.items():
        button.click(hide_file, None, [w.export_file], **INSTANT).then(
            user_errors(functools.partial(export, studio, w, fmt)),
            [project_id],
            [w.export_file],
            **INSTANT,
        ).success(None, None, None, js=CLICK_DOWNLOAD)
