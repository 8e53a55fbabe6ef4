"""The model panel: which model writes (embedded, a GGUF from the models folder or a path, or
an OpenAI-compatible server), where it runs, and downloads of catalogue models (only when the
writer presses Download; Cancel leaves nothing behind)."""

import functools
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from app.studio.events import INSTANT, user_errors, user_errors_stream
from app.studio.model_downloads import download_entry, download_label, downloadable
from app.studio.model_host import CUSTOM_PATH, EMBEDDED, SERVER, describe, model_choices
from app.studio.state import Studio
from engine.errors import UserError
from engine.schema import ModelSpec


def layout(w, studio: Studio) -> None:
    with gr.Accordion("Model", open=False, elem_id="model-panel"):
        w.model_select = gr.Dropdown(
            choices=model_menu(studio),
            value=current_model_key(studio),
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
        w.model_info = gr.Markdown(model_summary(studio), elem_id="model-info")
        w.download_select = gr.Dropdown(
            choices=download_menu(studio),
            label="Get a model (downloads only when you press Download)",
            elem_id="download-select",
        )
        with gr.Row():
            w.download = gr.Button("Download", elem_id="download-model")
            w.cancel_download = gr.Button("Cancel", elem_id="cancel-download")
        w.download_status = gr.Markdown(elem_id="download-status")


def model_menu(studio: Studio) -> list[tuple[str, str]]:
    return [(c.label, c.key) for c in model_choices(studio.models_dir)]


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
    where = spec.base_url or spec.model_path or "the embedded SmolLM2-135M-Instruct"
    return f"In use: {where}. Press *Use this model* to see its details."


def model_fields(choice: str) -> tuple:
    return (
        gr.update(visible=choice == CUSTOM_PATH),
        gr.update(visible=choice == SERVER),
        gr.update(visible=choice == SERVER),
    )


def use_model(studio: Studio, choice, path, base_url, model_name) -> str:
    if choice == SERVER:
        if not (base_url or "").strip():
            raise UserError("Type the server's URL, e.g. http://127.0.0.1:8000/v1.")
        spec = ModelSpec(base_url=base_url.strip(), model_name=(model_name or "").strip())
    elif choice == CUSTOM_PATH:
        if not (path or "").strip():
            raise UserError("Type the path of a .gguf file.")
        spec = ModelSpec(model_path=str(Path(path.strip()).expanduser()))
    elif choice == EMBEDDED or choice is None:
        spec = ModelSpec()
    else:
        spec = ModelSpec(model_path=choice)
    if studio.jobs:
        raise UserError("A generation is running; switch models when it has finished.")
    spec.n_ctx = studio.host.spec.n_ctx  # --ctx of `longwrite studio` holds for every model
    info = studio.host.choose(spec)
    gr.Info(f"Now writing with {info.name}.")
    return "In use: " + describe(info, studio.host.placement)


def download(
    studio: Studio,
    w,
    key: str | None,
    progress=gr.Progress(),  # noqa: B008 — Gradio finds its progress bar by this default
) -> Iterator[dict]:
    """Download a catalogue entry into the models folder, then offer it in the model menu."""
    if not key:
        raise UserError("Choose a model to download first.")
    if studio.download_cancel is not None:
        raise UserError("A download is running; wait for it or press Cancel.")
    studio.download_cancel = cancel = threading.Event()
    try:
        for update in download_entry(key, studio.models_dir, cancel):
            if update.fraction is not None:
                progress(update.fraction, desc=update.message)
            yield {w.download_status: update.message}
            if update.path is not None:
                gr.Info(f"Downloaded {update.path.name}; press Use this model to write with it.")
                yield {
                    w.model_select: gr.update(choices=model_menu(studio), value=str(update.path)),
                    w.download_select: gr.update(choices=download_menu(studio), value=None),
                }
    finally:
        studio.download_cancel = None


def cancel_download(studio: Studio) -> None:
    if studio.download_cancel is None:
        raise UserError("No download is running.")
    studio.download_cancel.set()
    gr.Info("Cancelling the download; nothing of it is kept.")


def wire(studio: Studio, w, demo: gr.Blocks) -> None:
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
