"""The first minutes: a welcome on an empty database, a sample project to try, and each tab's
primary button leading to the next step (Brief → Draft plan → Plan → Write)."""

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import gradio as gr
from gradio.components import Component

from app.studio.events import INSTANT, user_errors
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import info, label
from app.studio.state import Studio
from engine.planning.plan import words_from_instruction
from engine.projects.service import create_project
from engine.store.database import Project

FOCUS_INSTRUCTION = "() => { document.querySelector('#instruction textarea')?.focus(); }"


@dataclass
class WelcomeWidgets(NoRefreshAfterRun):
    """The welcome above the tabs, shown on an empty database."""

    welcome: gr.Column
    try_sample: gr.Button
    start_own: gr.Button

    def view_components(self) -> list[Component]:
        return [self.welcome]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        first_time = project is None and not studio.projects()
        return {self.welcome: gr.update(visible=first_time)}

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared, demo)


def layout() -> WelcomeWidgets:
    with gr.Column(visible=False, variant="panel", elem_id="welcome") as welcome:
        gr.Markdown(label("welcome.text"))
        with gr.Row():
            try_sample = gr.Button(
                label("welcome.try_sample"), variant="primary", elem_id="try-sample"
            )
            start_own = gr.Button(label("welcome.start_own"), elem_id="start-own")
    return WelcomeWidgets(welcome, try_sample, start_own)


@cache
def sample() -> dict:
    """The sample brief: a 1,500-word story with a short story bible (assets/examples)."""
    return json.loads((files("assets") / "examples" / "sample.json").read_text("utf-8"))


def try_sample(studio: Studio, shared: Shared) -> dict:
    brief = sample()
    name = studio.store.unique_name(brief["name"])
    words = words_from_instruction(brief["instruction"]) or 1500
    made = create_project(studio.store, name, brief["instruction"], words, brief["bible"])
    project = studio.claim(made)
    info("welcome.sample_ready")
    return {**shared.view.of(studio, project), shared.tabs: gr.update(selected="brief-tab")}


def start_own(w: WelcomeWidgets, tabs: gr.Tabs) -> dict:
    return {w.welcome: gr.update(visible=False), tabs: gr.update(selected="brief-tab")}


def wire(studio: Studio, w: WelcomeWidgets, shared: Shared, demo: gr.Blocks) -> None:
    view, tabs = shared.view.components(), shared.tabs
    demo.load(lambda: w.view_of(studio, None), None, [w.welcome], **INSTANT)
    w.try_sample.click(
        user_errors(lambda: try_sample(studio, shared)), None, [*view, tabs], **INSTANT
    )
    w.start_own.click(lambda: start_own(w, tabs), None, [w.welcome, tabs], **INSTANT).then(
        None, None, None, js=FOCUS_INSTRUCTION
    )
