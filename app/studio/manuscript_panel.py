"""The Write tab's Manuscript export: standard manuscript format (DOCX) for agents and
publishers, with the author's name and contact, saved once for every project."""

import functools

import gradio as gr

from app.studio.events import INSTANT, user_errors
from app.studio.language import info, label
from app.studio.state import Studio
from app.studio.writing import CLICK_DOWNLOAD, hide_file
from engine.projects.manuscript_format import export_manuscript
from engine.store.safe_names import file_stem


def layout(w) -> None:
    with gr.Accordion(label("manuscript.heading"), open=False, elem_id="manuscript"):
        with gr.Row():
            w.author_name = gr.Textbox(label=label("manuscript.author"), elem_id="author-name")
            w.author_contact = gr.Textbox(
                label=label("manuscript.contact"), lines=3, elem_id="author-contact"
            )
        w.export_manuscript = gr.Button(
            label("manuscript.export"), size="sm", elem_id="export-manuscript"
        )


def author_fields(studio: Studio) -> tuple[str, str]:
    """The saved name and contact, for a page that just loaded."""
    return studio.store.preference("author_name"), studio.store.preference("author_contact")


def save_author(studio: Studio, name, contact) -> None:
    if (name or "").strip():
        studio.store.set_preference("author_name", name)
    studio.store.set_preference("author_contact", contact or "")


def export(studio: Studio, w, project_id, name, contact) -> dict:
    project = studio.project(project_id)
    folder = studio.export_dir / str(project.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_stem(project.name)} manuscript.docx"
    export_manuscript(studio.store, project, path, name, contact)
    info("manuscript.exported", name=project.name)
    return {w.export_file: gr.update(value=str(path), visible=True)}


def wire(studio: Studio, w, demo: gr.Blocks) -> None:
    demo.load(functools.partial(author_fields, studio), None, [w.author_name, w.author_contact])
    for field in (w.author_name, w.author_contact):
        field.blur(
            user_errors(functools.partial(save_author, studio)),
            [w.author_name, w.author_contact],
            None,
            **INSTANT,
        )
    w.export_manuscript.click(hide_file, None, [w.export_file], **INSTANT).then(
        user_errors(functools.partial(export, studio, w)),
        [w.project_id, w.author_name, w.author_contact],
        [w.export_file],
        **INSTANT,
    ).success(None, None, None, js=CLICK_DOWNLOAD)
