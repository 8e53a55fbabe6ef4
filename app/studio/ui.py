"""The studio's screen: each feature module lays out its part and wires its own events.

Features: projects_panel, model_panel (side column); welcome (above the tabs); brief_plan with
bible_style, writing, recaps, section_tools, length_score (tabs). app.studio.view lists what
shows a project.
"""

import functools
from types import SimpleNamespace

import gradio as gr

from app.studio import (
    brief_plan,
    length_score,
    manuscript_panel,
    model_panel,
    projects_panel,
    recaps,
    review_panel,
    section_tools,
    welcome,
    writing,
)
from app.studio.language import APPLY_CHOICE, CHOOSE, SWITCH_CHOICES, label
from app.studio.state import Studio

CSS = """
#document, #active-section { font-family: Georgia, serif; line-height: 1.55; }
#active-section .lw-active { white-space: pre-wrap; }
.lw-empty { color: #888; }
#progress { min-height: 4.5em; }
.lw-diff { font-family: Georgia, serif; line-height: 1.55; }
.lw-diff ins { background: #d7f5dd; text-decoration: none; }
.lw-diff del { background: #fbd9d9; }
#document details.lw-chapter { border-top: 1px solid #ddd; padding: 0.3em 0; }
#document details.lw-chapter > summary { cursor: pointer; font-weight: 600; font-size: 1.15em; }
#review-passage .lw-review-text { font-family: Georgia, serif; line-height: 1.55;
  white-space: pre-wrap; }
#review-passage mark { background: #ffe58a; }
#document .lw-recap { font-style: italic; color: #555; border-left: 3px solid #ccc;
  padding-left: 0.8em; margin: 0.8em 0; }
"""


def build(studio: Studio) -> gr.Blocks:
    """The studio as a gr.Blocks app bound to one Studio (store, model host, models folder)."""
    return screen(studio)[0]


def screen(studio: Studio) -> tuple[gr.Blocks, SimpleNamespace]:
    """The app and its components by name (what the handlers take and return)."""
    w = SimpleNamespace()
    with gr.Blocks(title="longwrite studio", analytics_enabled=False) as demo:
        w.project_id = gr.State(None)
        w.last_project = gr.BrowserState(None, storage_key="longwrite-last-project")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                projects_panel.layout(w)
                model_panel.layout(w, studio)
            with gr.Column(scale=3):
                with gr.Row():
                    w.title = gr.Markdown(
                        label("app.title_none"), elem_id="project-title", container=False
                    )
                    w.language = gr.Radio(
                        SWITCH_CHOICES,
                        label=label("app.language"),
                        elem_id="language",
                        scale=0,
                        min_width=200,
                    )
                welcome.layout(w)
                with gr.Tabs() as w.tabs:
                    with gr.Tab(label("tab.brief"), id="brief-tab"):
                        brief_plan.brief_layout(w)
                    with gr.Tab(label("tab.plan"), id="plan-tab", elem_id="plan-tab"):
                        brief_plan.plan_layout(w)
                        writing.plan_write_layout(w)
                    with gr.Tab(
                        label("tab.write"), id="write-tab", elem_id="write-tab"
                    ) as w.write_tab:
                        writing.layout(w)
                        manuscript_panel.layout(w)
                        recaps.layout(w)
                        section_tools.layout(w)
                    with gr.Tab(label("tab.length"), id="length-tab", elem_id="length-tab"):
                        length_score.layout(w)
                    with gr.Tab(label("tab.review"), id="review-tab", elem_id="review-tab"):
                        review_panel.layout(w)
        # what other features refresh once a generation or an edit ends
        after_run = [
            (lambda: studio.project_table(), [], [w.project_list]),
            (functools.partial(section_tools.after_run, studio, w), [w.project_id], [w.section]),
            (
                functools.partial(length_score.after_run, studio, w),
                [w.project_id],
                [w.length_summary, w.length],
            ),
            (
                functools.partial(recaps.refresh, studio, w),
                [w.project_id],
                [w.recap_box, w.recap_chapter],
            ),
        ]
        demo.load(None, None, [w.language], js=APPLY_CHOICE)
        w.language.input(None, [w.language], None, js=CHOOSE)
        projects_panel.wire(studio, w, demo)
        welcome.wire(studio, w, demo)
        model_panel.wire(studio, w, demo)
        brief_plan.wire(studio, w, demo)
        writing.wire(studio, w, demo, after_run)
        recaps.wire(studio, w, demo)
        section_tools.wire(studio, w, demo, after_run)
        length_score.wire(studio, w, demo)
        review_panel.wire(studio, w, demo)
        manuscript_panel.wire(studio, w, demo)
    return demo, w
