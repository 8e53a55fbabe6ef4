"""The first minutes: a welcome on an empty database, a sample project to try, and each tab's
primary button leading to the next step (Brief → Draft plan → Plan → Write)."""

import json
from functools import cache
from importlib.resources import files

import gradio as gr

from app.studio.events import INSTANT, user_errors
from app.studio.language import info, label
from app.studio.state import Studio
from app.studio.view import components, project_view
from engine.planning.plan import words_from_instruction
from engine.projects.service import create_project
from engine.store.database import Project

FOCUS_INSTRUCTION = "() => { document.querySelector('#instruction textarea')?.focus(); }"


def layout(w) -> None:
    with gr.Column(visible=False, variant="panel", elem_id="welcome") as w.welcome:
        gr.Markdown(label("welcome.text"))
        with gr.Row():
            w.try_sample = gr.Button(
                label("welcome.try_sample"), variant="primary", elem_id="try-sample"
            )
            w.start_own = gr.Button(label("welcome.start_own"), elem_id="start-own")


@cache
def sample() -> dict:
    """The sample brief: a 1,500-word story with a short story bible (assets/examples)."""
    return json.loads((files("assets") / "examples" / "sample.json").read_text("utf-8"))


def view_components(w) -> list:
    return [w.welcome]


def view_of(studio: Studio, w, project: Project | None) -> dict:
    first_time = project is None and not studio.store.list_projects()
    return {w.welcome: gr.update(visible=first_time)}


def try_sample(studio: Studio, w) -> dict:
    brief = sample()
    name = studio.store.unique_name(brief["name"])
    words = words_from_instruction(brief["instruction"]) or 1500
    project = create_project(studio.store, name, brief["instruction"], words, brief["bible"])
    info("welcome.sample_ready")
    return {**project_view(studio, w, project), w.tabs: gr.update(selected="brief-tab")}


def start_own(w) -> dict:
    return {w.welcome: gr.update(visible=False), w.tabs: gr.update(selected="brief-tab")}


def wire(studio: Studio, w, demo: gr.Blocks) -> None:
    view = components(w)
    w.try_sample.click(user_errors(lambda: try_sample(studio, w)), None, [*view, w.tabs], **INSTANT)
    w.start_own.click(lambda: start_own(w), None, [w.welcome, w.tabs], **INSTANT).then(
        None, None, None, js=FOCUS_INSTRUCTION
    )
