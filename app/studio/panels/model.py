"""The model panel: which model writes (embedded, a GGUF from the models folder or a path, or
an OpenAI-compatible server), where it runs, and downloads of catalogue models (only when the
writer presses Download; Cancel leaves nothing behind)."""

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.components import Component

from app.studio.events import INSTANT, user_errors, user_errors_stream
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import info, label, t
from app.studio.model_downloads import download_entry, download_label, downloadable
from app.studio.model_host import CUSTOM_PATH, EMBEDDED, SERVER, describe, model_choices
from app.studio.state import Studio
from engine.errors import UserError
from engine.store.database import Project


@dataclass
class ModelWidgets(NoRefreshAfterRun):
    """The side column's model panel: choose, use, download."""

    model_select: gr.Dropdown
    model_path: gr.Textbox
    base_url: gr.Textbox
    model_name: gr.Textbox
    use_model: gr.Button
    model_info: gr.Markdown
    download_select: gr.Dropdown
    download: gr.Button
    cancel_download: gr.Button
    download_status: gr.Markdown

    def view_components(self) -> list[Component]:
        return []  # the model serves every project

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return {}

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, demo)


def layout(studio: Studio) -> ModelWidgets:
    with gr.Accordion(label("model.panel"), open=False, elem_id="model-panel"):
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
        download_select = gr.Dropdown(
            choices=download_menu(studio),
            label=label("model.download_select"),
            elem_id="download-select",
        )
        with gr.Row():
            download = gr.Button(label("model.download"), elem_id="download-model")
            cancel_download = gr.Button(label("model.cancel"), elem_id="cancel-download")
        download_status = gr.Markdown(elem_id="download-status")
    return ModelWidgets(
        model_select=model_select,
        model_path=model_path,
        base_url=base_url,
        model_name=model_name,
        use_model=use_model,
        model_info=model_info,
        download_select=download_select,
        download=download,
        cancel_download=cancel_download,
        download_status=download_status,
    )


def model_menu(studio: Studio) -> list[tuple[str, str]]:
    """The model menu in the reader's language (a models-folder file by its name)."""
    fixed = {
        EMBEDDED: t("model.choice_embedded"),
        CUSTOM_PATH: t("model.choice_path"),
        SERVER: t("model.choice_server"),
    }
    return [
        (fixed.get(c.key) or t("model.choice_folder", file=Path(c.key).name), c.key)
        for c in model_choices(studio.models_dir)
    ]


def on_load(studio: Studio) -> tuple:
    """The panel's server-made texts, in the language of the browser that opened the page."""
    return gr.update(choices=model_menu(studio)), model_summary(studio)


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


def use_model(studio: Studio, choice, path, base_url, model_name) -> str:
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
    if studio.jobs:
        raise UserError(key="error.switch_while_running")
    # --ctx, --gpu-layers, --kv-cache and --flash-attn of `longwrite studio` hold for every model
    # a studio voice (--voice) was made for the model it replaces
    unchosen = {"model_path": None, "base_url": None, "model_name": None, "voice_path": None}
    spec = studio.host.spec.model_copy(update={**unchosen, **model})
    chosen = studio.host.choose(spec)
    info("model.now_writing", name=chosen.name)
    return t("model.in_use", description=describe(chosen, studio.host.placement))


def download(
    studio: Studio,
    w: ModelWidgets,
    key: str | None,
    progress=gr.Progress(),  # noqa: B008 — Gradio finds its progress bar by this default
) -> Iterator[dict]:
    """Download a catalogue entry into the models folder, then offer it in the model menu."""
    if not key:
        raise UserError(key="error.choose_download")
    if studio.download_cancel is not None:
        raise UserError(key="error.download_running")
    studio.download_cancel = cancel = threading.Event()
    try:
        for update in download_entry(key, studio.models_dir, cancel):
            if update.fraction is not None:
                progress(update.fraction, desc=update.message)
            yield {w.download_status: update.message}
            if update.path is not None:
                info("model.downloaded", file=update.path.name)
                yield {
                    w.model_select: gr.update(choices=model_menu(studio), value=str(update.path)),
                    w.download_select: gr.update(choices=download_menu(studio), value=None),
                }
    finally:
        studio.download_cancel = None


def cancel_download(studio: Studio) -> None:
    if studio.download_cancel is None:
        raise UserError(key="error.no_download")
    studio.download_cancel.set()
    info("model.cancelling")


def wire(studio: Studio, w: ModelWidgets, demo: gr.Blocks) -> None:
    demo.load(functools.partial(on_load, studio), None, [w.model_select, w.model_info], **INSTANT)
    w.download.click(
        user_errors_stream(functools.partial(download, studio, w)),
        [w.download_select],
        [w.download_status, w.model_select, w.download_select],
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
        user_errors(functools.partial(use_model, studio)),
        [w.model_select, w.model_path, w.base_url, w.model_name],
        [w.model_info],
        **INSTANT,
    )
