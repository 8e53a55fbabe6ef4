"""The Write tab's Manuscript export: standard manuscript format (DOCX) for agents and
publishers, with the author's name and contact, saved once for every project (once for each
writer, with sign-in).

The file is offered in the Write tab's download field (Shared.export_file), like the other
exports."""

import functools
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from app.studio import service
from app.studio.events import INSTANT, user_errors
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import info, label
from app.studio.state import Studio
from engine.projects.manuscript_format import export_manuscript, remember_author, stored_author
from engine.store.database import Project
from engine.store.safe_names import file_stem


@dataclass
class ManuscriptWidgets(NoRefreshAfterRun):
    """The author's name and contact (preferences, not the project's) and the export button."""

    author_name: gr.Textbox
    author_contact: gr.Textbox
    export: gr.Button

    def view_components(self) -> list[Component]:
        return []  # the author is the same for every project

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return {}

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared, demo)


def layout() -> ManuscriptWidgets:
    with gr.Accordion(label("manuscript.heading"), open=False, elem_id="manuscript"):
        with gr.Row():
            author_name = gr.Textbox(label=label("manuscript.author"), elem_id="author-name")
            author_contact = gr.Textbox(
                label=label("manuscript.contact"), lines=3, elem_id="author-contact"
            )
        export = gr.Button(label("manuscript.export"), size="sm", elem_id="export-manuscript")
    return ManuscriptWidgets(author_name, author_contact, export)


# -- handlers ---------------------------------------------------------------------------------
def author_fields(studio: Studio) -> tuple[str, str]:
    """The writer's saved name and contact, for a page that just loaded."""
    return stored_author(studio.store, studio.writer())


def save_author(studio: Studio, name, contact) -> None:
    remember_author(studio.store, name, contact or "", studio.writer())


def export(studio: Studio, export_file: gr.File, project_id, name, contact) -> dict:
    """Build the manuscript now and offer it in `export_file` (the Write tab's download)."""
    project = studio.project(project_id)
    folder = studio.export_dir / str(project.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_stem(project.name)} manuscript.docx"
    export_manuscript(studio.store, project, path, name, contact)
    info("manuscript.exported", name=project.name)
    return {export_file: gr.update(value=str(path), visible=True)}


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: ManuscriptWidgets, shared: Shared, demo: gr.Blocks) -> None:
    demo.load(functools.partial(author_fields, studio), None, [w.author_name, w.author_contact])
    for field in (w.author_name, w.author_contact):
        field.blur(
            user_errors(functools.partial(save_author, studio)),
            [w.author_name, w.author_contact],
            None,
            **INSTANT,
        )
    export_file = shared.export_file
    w.export.click(service.hide_file, None, [export_file], **INSTANT).then(
        user_errors(functools.partial(export, studio, export_file)),
        [shared.open.project_id, w.author_name, w.author_contact],
        [export_file],
        **INSTANT,
    ).success(None, None, None, js=service.CLICK_DOWNLOAD)
