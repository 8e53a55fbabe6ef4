"""The studio's screen: Gradio components and their stable element ids.

This module only lays the screen out; app.studio.wiring connects its events to the handlers
in app.studio.handlers.
"""

from types import SimpleNamespace

import gradio as gr

from app.studio.handlers import Studio
from app.studio.plan_table import DATATYPES, HEADERS
from app.studio.score import LENGTH_HEADERS
from app.studio.wiring import wire

CSS = """
#document, #active-section { font-family: Georgia, serif; line-height: 1.55; }
#active-section .lw-active { white-space: pre-wrap; }
.lw-empty { color: #888; }
#progress { min-height: 4.5em; }
"""


def build(studio: Studio) -> gr.Blocks:
    """The studio as a gr.Blocks app bound to one Studio (store, model host, models folder)."""
    w = SimpleNamespace()
    with gr.Blocks(title="longwrite studio", analytics_enabled=False) as demo:
        w.project_id = gr.State(None)
        w.last_project = gr.BrowserState(None, storage_key="longwrite-last-project")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                _project_panel(w)
                _model_panel(w, studio)
            with gr.Column(scale=3):
                w.title = gr.Markdown("### No project open", elem_id="project-title")
                with gr.Tabs():
                    with gr.Tab("Brief", id="brief-tab"):
                        _brief_tab(w)
                    with gr.Tab("Plan", id="plan-tab", elem_id="plan-tab"):
                        _plan_tab(w)
                    with gr.Tab("Write", id="write-tab", elem_id="write-tab"):
                        _write_tab(w)
                    with gr.Tab("Length", id="length-tab", elem_id="length-tab"):
                        _length_tab(w)
        wire(studio, w, demo)
    return demo


def _project_panel(w: SimpleNamespace) -> None:
    gr.Markdown("## Projects")
    w.project_list = gr.Dataframe(
        headers=["Project", "Words", "Target", "Status", "Last edited"],
        datatype=["str", "number", "number", "str", "str"],
        interactive=False,
        elem_id="project-list",
        max_height=320,
        label="Click a project to open it",
    )
    with gr.Row():
        w.new_name = gr.Textbox(label="New project name", elem_id="new-name", scale=3)
        w.create = gr.Button("Create", elem_id="create-project", scale=1)
    with gr.Accordion("Rename, duplicate, delete", open=False, elem_id="manage"):
        with gr.Row():
            w.rename_to = gr.Textbox(label="Name", elem_id="rename-to", scale=3)
            w.rename = gr.Button("Rename", elem_id="rename-project", scale=1)
        with gr.Row():
            w.duplicate = gr.Button("Duplicate", elem_id="duplicate-project")
            w.delete = gr.Button("Delete…", variant="stop", elem_id="delete-project")
        with gr.Group(visible=False) as w.delete_box:
            w.delete_note = gr.Markdown(elem_id="delete-note")
            with gr.Row():
                w.delete_confirm = gr.Button(
                    "Yes, delete it", variant="stop", elem_id="delete-confirm"
                )
                w.delete_cancel = gr.Button("Keep it", elem_id="delete-cancel")


def _model_panel(w: SimpleNamespace, studio: Studio) -> None:
    with gr.Accordion("Model", open=False, elem_id="model-panel"):
        choices = studio.model_menu()
        w.model_select = gr.Dropdown(
            choices=choices,
            value=studio.current_model_key(),
            label="Model",
            elem_id="model-select",
        )
        w.model_path = gr.Textbox(label="GGUF file", elem_id="model-path", visible=False)
        w.base_url = gr.Textbox(
            label="Server URL",
            placeholder="http://127.0.0.1:8000/v1",
            elem_id="base-url",
            visible=False,
        )
        w.model_name = gr.Textbox(
            label="Model name on the server", elem_id="model-name", visible=False
        )
        w.use_model = gr.Button("Use this model", elem_id="use-model")
        w.model_info = gr.Markdown(studio.model_summary(), elem_id="model-info")


def _brief_tab(w: SimpleNamespace) -> None:
    w.instruction = gr.Textbox(
        label="Instruction",
        placeholder="Write a 3,000-word mystery story about a lighthouse keeper…",
        lines=4,
        elem_id="instruction",
    )
    w.bible = gr.Textbox(
        label="Story bible (characters, places, style — every section sees it)",
        lines=6,
        elem_id="bible",
    )
    with gr.Row():
        w.total = gr.Number(
            label="Total words", value=1000, precision=0, minimum=1, elem_id="total-words"
        )
        w.single = gr.Checkbox(
            label="Single pass (the whole piece in one reply, no plan)", elem_id="single-pass"
        )


def _plan_tab(w: SimpleNamespace) -> None:
    with gr.Row():
        w.draft = gr.Button("Draft plan", variant="primary", elem_id="draft-plan")
        w.rescale = gr.Button("Rescale to total", elem_id="rescale")
    w.plan_stream = gr.Textbox(
        label="Model output while drafting",
        lines=3,
        max_lines=6,
        interactive=False,
        elem_id="plan-stream",
        visible=True,
    )
    w.plan = gr.Dataframe(
        headers=HEADERS,
        datatype=DATATYPES,
        column_count=len(HEADERS),
        type="array",
        interactive=True,
        show_row_numbers=True,
        wrap=True,
        column_widths=["22%", "58%", "10%", "10%"],
        elem_id="plan",
        label="Plan (edit cells in place; locked rows survive a re-draft)",
    )
    w.plan_total = gr.Markdown(elem_id="plan-total")
    with gr.Row():
        w.row = gr.Number(
            label="Row", value=1, precision=0, minimum=1, elem_id="row-number", scale=1
        )
        w.add_row = gr.Button("Add row below", elem_id="add-row", scale=1)
        w.delete_row = gr.Button("Delete row", elem_id="delete-row", scale=1)
        w.up = gr.Button("Move up", elem_id="move-up", scale=1)
        w.down = gr.Button("Move down", elem_id="move-down", scale=1)
        w.lock = gr.Button("Lock / unlock", elem_id="lock-row", scale=1)
    with gr.Row():
        w.versions = gr.Dropdown(label="Plan versions", elem_id="plan-versions", scale=3)
        w.restore_plan = gr.Button("Back to this version", elem_id="restore-plan", scale=1)


def _write_tab(w: SimpleNamespace) -> None:
    with gr.Row():
        w.write = gr.Button("Write", variant="primary", elem_id="write")
        w.stop = gr.Button("Stop", variant="stop", elem_id="stop")
        w.resume = gr.Button("Resume", elem_id="resume")
        w.start_over = gr.Button("Start over", elem_id="start-over")
    w.progress = gr.Markdown(elem_id="progress")
    w.document = gr.HTML(elem_id="document")
    w.active_heading = gr.HTML(elem_id="active-heading")
    w.active = gr.HTML(
        elem_id="active-section", html_template='<div class="lw-active">${value}</div>'
    )
    with gr.Row():
        w.exports = {
            fmt: gr.DownloadButton(label, elem_id=f"export-{fmt}", interactive=False)
            for fmt, label in [
                ("md", "Markdown"),
                ("html", "HTML"),
                ("docx", "DOCX"),
                ("epub", "EPUB"),
            ]
        }
    with gr.Accordion(
        "One section: regenerate, extend, edit, history", open=False, elem_id="section-tools"
    ):
        w.section = gr.Dropdown(label="Section", elem_id="section-select")
        with gr.Row():
            w.regenerate = gr.Button("Regenerate", elem_id="regenerate")
            w.extend_words = gr.Number(
                label="Extend by (words)", value=100, precision=0, minimum=1, elem_id="extend-words"
            )
            w.extend = gr.Button("Extend", elem_id="extend")
        w.section_text = gr.Textbox(label="Text (edit by hand)", lines=8, elem_id="section-text")
        w.save_section = gr.Button("Save my edit", elem_id="save-section")
        with gr.Row():
            w.history = gr.Dropdown(
                label="Versions of this section", elem_id="section-history", scale=3
            )
            w.restore_section = gr.Button(
                "Restore this version", elem_id="restore-section", scale=1
            )


def _length_tab(w: SimpleNamespace) -> None:
    w.score = gr.Button("Score", elem_id="score")
    w.length_summary = gr.Markdown(elem_id="length-summary")
    w.length = gr.Dataframe(
        headers=LENGTH_HEADERS, interactive=False, elem_id="length-view", type="array"
    )
    w.quality = gr.Markdown(elem_id="quality")
