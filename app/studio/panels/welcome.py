"""The first minutes: a welcome on an empty database, a sample project to try, and each tab's
primary button leading to the next step (Brief → Draft plan → Plan → Write). The welcome says
the embedded model is only a test model, suggests the model that fits this machine (with
Download) and lists the models already on disk, each with Use this."""

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import gradio as gr
from gradio.components import Component

from app.studio.events import INSTANT, user_errors, user_errors_stream
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import info, label, t
from app.studio.model_choice import found, found_line, header, suggestion, switch
from app.studio.model_downloads import cancel_download, downloading
from app.studio.state import Studio
from engine.errors import UserError
from engine.planning.plan import words_from_instruction
from engine.projects.service import create_project
from engine.store.database import Project

FOCUS_INSTRUCTION = "() => { document.querySelector('#instruction textarea')?.focus(); }"
FOUND_SLOTS = 5  # models on disk shown with Use this; the model menu lists them all


@dataclass
class WelcomeWidgets(NoRefreshAfterRun):
    """The welcome above the tabs, shown on an empty database."""

    welcome: gr.Column
    try_sample: gr.Button
    start_own: gr.Button
    suggestion: gr.Markdown
    download: gr.Button
    cancel_download: gr.Button
    download_status: gr.Markdown
    found_heading: gr.Markdown
    found_rows: list[gr.Row]
    found_lines: list[gr.Markdown]
    use_found: list[gr.Button]
    found_paths: gr.State  # the paths the page's rows show, in their order
    suggested_key: gr.State  # the catalogue key the page's Download gets

    def machine_components(self) -> list[Component]:
        """What a fresh look at the machine fills."""
        return [
            self.suggestion,
            self.download,
            self.cancel_download,
            self.suggested_key,
            self.found_heading,
            *self.found_rows,
            *self.found_lines,
            self.found_paths,
        ]

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
        gr.Markdown(label("model.test_model_note"), elem_id="welcome-test-note")
        suggested = gr.Markdown(elem_id="welcome-suggestion")
        with gr.Row():
            download = gr.Button(
                label("model.download"), visible=False, elem_id="welcome-download", scale=0
            )
            cancel = gr.Button(
                label("model.cancel"), visible=False, elem_id="welcome-cancel", scale=0
            )
        download_status = gr.Markdown(elem_id="welcome-download-status")
        found_heading = gr.Markdown(elem_id="welcome-found")
        rows, lines, buttons = [], [], []
        for slot in range(FOUND_SLOTS):
            with gr.Row(visible=False, equal_height=True) as row:
                lines.append(gr.Markdown(elem_id=f"found-{slot}"))
                buttons.append(
                    gr.Button(label("welcome.use_found"), elem_id=f"use-found-{slot}", scale=0)
                )
            rows.append(row)
    return WelcomeWidgets(
        welcome=welcome,
        try_sample=try_sample,
        start_own=start_own,
        suggestion=suggested,
        download=download,
        cancel_download=cancel,
        download_status=download_status,
        found_heading=found_heading,
        found_rows=rows,
        found_lines=lines,
        use_found=buttons,
        found_paths=gr.State([]),
        suggested_key=gr.State(None),
    )


def machine_view(studio: Studio, w: WelcomeWidgets) -> dict:
    """The suggestion (Download shown while there is one to download) and the models on disk."""
    suggested = suggestion(studio)
    fits = found(studio)
    shown = fits[:FOUND_SLOTS]
    heading = t("welcome.found_heading") if fits else t("welcome.found_none")
    if len(fits) > FOUND_SLOTS:
        heading += " " + t("welcome.found_more", count=len(fits) - FOUND_SLOTS)
    view = {
        w.suggestion: suggested.line,
        w.download: gr.update(visible=suggested.entry is not None),
        w.cancel_download: gr.update(visible=suggested.entry is not None),
        w.suggested_key: suggested.entry.key if suggested.entry else None,
        w.found_heading: heading,
        w.found_paths: [fit.found.path for fit in shown],
    }
    for slot, (row, line) in enumerate(zip(w.found_rows, w.found_lines, strict=True)):
        present = slot < len(shown)
        view[row] = gr.update(visible=present)
        view[line] = found_line(shown[slot]) if present else ""
    return view


def use_found(studio: Studio, shared: Shared, slot: int, paths: list[str] | None) -> dict:
    """Write with the model of this row, loaded from where it lies."""
    if not paths or slot >= len(paths):
        raise UserError(key="error.found_gone")
    unchosen = {"base_url": None, "model_name": None}
    switch(studio, studio.host.spec.model_copy(update={**unchosen, "model_path": paths[slot]}))
    return {shared.model_header: header(studio)}


def download(
    studio: Studio,
    w: WelcomeWidgets,
    key: str | None,
    progress=gr.Progress(),  # noqa: B008 — Gradio finds its progress bar by this default
) -> Iterator[dict]:
    """Download the suggested model; once it is in the models folder it is listed with Use
    this."""
    if not key:
        raise UserError(key="error.nothing_to_download")
    for update in downloading(studio, key, progress):
        yield {w.download_status: update.message}
        if update.path is not None:
            yield machine_view(studio, w)


@cache
def sample() -> dict:
    """The sample brief: a 1,500-word story with a short story bible (assets/examples)."""
    return json.loads((files("assets") / "examples" / "sample.json").read_text("utf-8"))


def try_sample(studio: Studio, shared: Shared) -> dict:
    brief = sample()
    name = studio.store.unique_name(brief["name"])
    words = words_from_instruction(brief["instruction"]) or 1500
    made = create_project(
        studio.store, name, brief["instruction"], words, brief["bible"], model=studio.host.spec
    )
    project = studio.claim(made)
    info("welcome.sample_ready")
    return {**shared.view.of(studio, project), shared.tabs: gr.update(selected="brief-tab")}


def start_own(w: WelcomeWidgets, tabs: gr.Tabs) -> dict:
    return {w.welcome: gr.update(visible=False), tabs: gr.update(selected="brief-tab")}


def wire(studio: Studio, w: WelcomeWidgets, shared: Shared, demo: gr.Blocks) -> None:
    view, tabs = shared.view.components(), shared.tabs
    demo.load(lambda: w.view_of(studio, None), None, [w.welcome], **INSTANT)
    demo.load(
        user_errors(functools.partial(machine_view, studio, w)),
        None,
        w.machine_components(),
        **INSTANT,
    )
    for slot, button in enumerate(w.use_found):
        button.click(
            user_errors(functools.partial(use_found, studio, shared, slot)),
            [w.found_paths],
            [shared.model_header],
            **INSTANT,
        )
    w.download.click(
        user_errors_stream(functools.partial(download, studio, w)),
        [w.suggested_key],
        [w.download_status, *w.machine_components()],
        show_progress_on=[w.download_status],
        concurrency_id="download",
        concurrency_limit=1,
    )
    w.cancel_download.click(
        user_errors(functools.partial(cancel_download, studio)), None, None, **INSTANT
    )
    w.try_sample.click(
        user_errors(lambda: try_sample(studio, shared)), None, [*view, tabs], **INSTANT
    )
    w.start_own.click(lambda: start_own(w, tabs), None, [w.welcome, tabs], **INSTANT).then(
        None, None, None, js=FOCUS_INSTRUCTION
    )
