"""The model panel: which model writes (embedded, a GGUF found on disk or given by its path, or
an OpenAI-compatible server), where it runs, the model suggested for this machine, and
downloads of catalogue models (only when the writer presses Download; Cancel leaves nothing
behind). It also owns the header line naming the model that writes, which every page keeps up
to date on its refresh timer, and a reopened project's offer of the model it was written with."""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.components import Component

from app.studio.events import INSTANT, user_errors, user_errors_stream
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import label, t
from app.studio.model_choice import header, suggestion, switch
from app.studio.model_downloads import cancel_download, download_label, downloadable, downloading
from app.studio.model_host import (
    CUSTOM_PATH,
    EMBEDDED,
    SERVER,
    describe,
    model_choices,
    model_title,
    same_model,
)
from app.studio.state import Studio
from engine.errors import UserError
from engine.store.database import Project


@dataclass
class ModelWidgets(NoRefreshAfterRun):
    """The side column's model panel: choose, use, download; and the header line and a
    reopened project's offer, which ui.py places above the tabs."""

    model_select: gr.Dropdown
    model_path: gr.Textbox
    base_url: gr.Textbox
    model_name: gr.Textbox
    use_model: gr.Button
    model_info: gr.Markdown
    suggestion: gr.Markdown
    download_select: gr.Dropdown
    download: gr.Button
    cancel_download: gr.Button
    download_status: gr.Markdown
    header: gr.Markdown  # rendered by ui.py
    offer: gr.Markdown  # rendered by ui.py
    use_saved: gr.Button  # rendered by ui.py
    header_changes: gr.State  # the host's choice count the page's header shows

    def view_components(self) -> list[Component]:
        return [self.offer, self.use_saved]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        if project is None or same_model(project.model, studio.host.spec):
            hidden = gr.update(visible=False)
            return {self.offer: hidden, self.use_saved: hidden}
        saved = model_title(project.model, studio.models_dir)
        now = model_title(studio.host.spec, studio.models_dir)
        return {
            self.offer: gr.update(visible=True, value=t("model.offer", name=saved, current=now)),
            self.use_saved: gr.update(visible=True, value=t("model.use_saved", name=saved)),
        }

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared, demo)


def layout(studio: Studio) -> ModelWidgets:
    model_header = gr.Markdown(header(studio), elem_id="model-header", render=False)
    offer = gr.Markdown(visible=False, elem_id="model-offer", render=False)
    use_saved = gr.Button(
        visible=False, elem_id="use-saved-model", size="sm", scale=0, render=False
    )
    header_changes = gr.State(-1)
    with gr.Accordion(label("model.panel"), open=False, elem_id="model-panel"):
        gr.Markdown(label("model.test_model_note"), elem_id="model-test-note")
        model_select = gr.Dropdown(
            choices=model_menu(studio),
            value=current_model_key(studio),
            label=label("model.select"),
            elem_id="model-select",
        )
        model_path = gr.Textbox(label=label("model.path"), elem_id="model-path", visible=False)
        base_url = gr.Textbox(
            label=label("model.base_url"),
            placeholder="http://127.0.0.1:8000/v1",
            elem_id="base-url",
            visible=False,
        )
        model_name = gr.Textbox(label=label("model.name"), elem_id="model-name", visible=False)
        use_model = gr.Button(label("model.use"), elem_id="use-model")
        model_info = gr.Markdown(model_summary(studio), elem_id="model-info")
        suggested = gr.Markdown(elem_id="model-suggestion")
        download_select = gr.Dropdown(
            choices=download_menu(studio),
            label=label("model.download_select"),
            elem_id="download-select",
        )
        with gr.Row():
            download = gr.Button(label("model.download"), elem_id="download-model")
            cancel = gr.Button(label("model.cancel"), elem_id="cancel-download")
        download_status = gr.Markdown(elem_id="download-status")
    return ModelWidgets(
        model_select=model_select,
        model_path=model_path,
        base_url=base_url,
        model_name=model_name,
        use_model=use_model,
        model_info=model_info,
        suggestion=suggested,
        download_select=download_select,
        download=download,
        cancel_download=cancel,
        download_status=download_status,
        header=model_header,
        offer=offer,
        use_saved=use_saved,
        header_changes=header_changes,
    )


def model_menu(studio: Studio) -> list[tuple[str, str]]:
    """The model menu in the reader's language: a GGUF found on disk by its name and source."""
    fixed = {
        EMBEDDED: t("model.choice_embedded"),
        CUSTOM_PATH: t("model.choice_path"),
        SERVER: t("model.choice_server"),
    }
    return [
        (
            fixed.get(c.key)
            or t("model.choice_found", source=t(f"model.source.{c.source}"), name=c.label),
            c.key,
        )
        for c in model_choices(studio.models_dir)
    ]


def on_load(studio: Studio, w: ModelWidgets) -> dict:
    """The panel's server-made texts, in the language of the browser that opened the page."""
    suggested = suggestion(studio)
    return {
        w.model_select: gr.update(choices=model_menu(studio)),
        w.model_info: model_summary(studio),
        w.suggestion: suggested.line,
        w.download_select: gr.update(value=suggested.entry.key if suggested.entry else None),
        **header_now(studio, w),
    }


def header_now(studio: Studio, w: ModelWidgets) -> dict:
    return {w.header: header(studio), w.header_changes: studio.host.changes}


def header_if_changed(studio: Studio, w: ModelWidgets, shown: int | None) -> dict:
    """The header anew when the model changed since the page last showed it (in any page)."""
    return {} if shown == studio.host.changes else header_now(studio, w)


def current_model_key(studio: Studio) -> str:
    spec = studio.host.spec
    if spec.base_url:
        return SERVER
    if not spec.model_path:
        return EMBEDDED
    keys = [key for _, key in model_menu(studio)]
    return spec.model_path if spec.model_path in keys else CUSTOM_PATH


def download_menu(studio: Studio) -> list[tuple[str, str]]:
    return [(download_label(entry), entry.key) for entry in downloadable(studio.models_dir)]


def model_summary(studio: Studio) -> str:
    spec = studio.host.spec
    where = spec.base_url or spec.model_path or t("model.embedded_name")
    return t("model.summary", where=where)


def model_fields(choice: str) -> tuple:
    return (
        gr.update(visible=choice == CUSTOM_PATH),
        gr.update(visible=choice == SERVER),
        gr.update(visible=choice == SERVER),
    )


def use_model(studio: Studio, w: ModelWidgets, choice, path, base_url, model_name) -> dict:
    if choice == SERVER:
        if not (base_url or "").strip():
            raise UserError(key="error.server_url")
        model = {"base_url": base_url.strip(), "model_name": (model_name or "").strip()}
    elif choice == CUSTOM_PATH:
        if not (path or "").strip():
            raise UserError(key="error.gguf_path")
        model = {"model_path": str(Path(path.strip()).expanduser())}
    elif choice == EMBEDDED or choice is None:
        model = {}
    else:
        model = {"model_path": choice}
    # --ctx, --gpu-layers, --kv-cache and --flash-attn of `longwrite studio` hold for every model
    # a studio voice (--voice) was made for the model it replaces
    unchosen = {"model_path": None, "base_url": None, "model_name": None, "voice_path": None}
    spec = studio.host.spec.model_copy(update={**unchosen, **model})
    chosen = switch(studio, spec)
    described = t("model.in_use", description=describe(chosen, studio.host.placement))
    return {w.model_info: described, **header_now(studio, w)}


def use_saved(studio: Studio, w: ModelWidgets, project_id: int | None) -> dict:
    """Switch to the model the open project was written with (this page asked for it)."""
    project = studio.project(project_id)
    if same_model(project.model, studio.host.spec):
        raise UserError(key="error.no_saved_model")
    switch(studio, project.model.model_copy(update={"n_threads": studio.host.spec.n_threads}))
    hidden = gr.update(visible=False)
    return {w.offer: hidden, w.use_saved: hidden, **header_now(studio, w)}


def download(
    studio: Studio,
    w: ModelWidgets,
    key: str | None,
    progress=gr.Progress(),  # noqa: B008 — Gradio finds its progress bar by this default
) -> Iterator[dict]:
    """Download a catalogue entry into the models folder, then offer it in the model menu."""
    for update in downloading(studio, key, progress):
        yield {w.download_status: update.message}
        if update.path is not None:
            yield {
                w.model_select: gr.update(choices=model_menu(studio), value=str(update.path)),
                w.download_select: gr.update(choices=download_menu(studio), value=None),
                w.suggestion: suggestion(studio).line,
            }


def wire(studio: Studio, w: ModelWidgets, shared: Shared, demo: gr.Blocks) -> None:
    loaded = [w.model_select, w.model_info, w.suggestion, w.download_select, w.header]
    demo.load(
        user_errors(functools.partial(on_load, studio, w)),
        None,
        [*loaded, w.header_changes],
        **INSTANT,
    )
    for refresh in shared.page_refresh.triggers():  # another page's switch shows here too
        refresh(
            user_errors(functools.partial(header_if_changed, studio, w)),
            [w.header_changes],
            [w.header, w.header_changes],
            **INSTANT,
        )
    w.download.click(
        user_errors_stream(functools.partial(download, studio, w)),
        [w.download_select],
        [w.download_status, w.model_select, w.download_select, w.suggestion],
        show_progress_on=[w.download_status],
        concurrency_id="download",
        concurrency_limit=1,
    )
    w.cancel_download.click(
        user_errors(functools.partial(cancel_download, studio)), None, None, **INSTANT
    )
    w.model_select.change(
        model_fields, [w.model_select], [w.model_path, w.base_url, w.model_name], **INSTANT
    )
    w.use_model.click(
        user_errors(functools.partial(use_model, studio, w)),
        [w.model_select, w.model_path, w.base_url, w.model_name],
        [w.model_info, w.header, w.header_changes],
        **INSTANT,
    )
    w.use_saved.click(
        user_errors(functools.partial(use_saved, studio, w)),
        [shared.open.project_id],
        [w.offer, w.use_saved, w.header, w.header_changes],
        **INSTANT,
    )
