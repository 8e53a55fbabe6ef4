"""The voice panel: which voice (a LoRA adapter GGUF) the open project writes with, on top of
the model in use, and training a new voice from the writer's own projects.

A project keeps its voice in its saved load settings (voice_path "" when it chose none); every
generation for it loads the model with that voice (app.studio.model_host.with_voice). With no
project open, the choice becomes the studio's own voice, which projects that never chose one
write with. The menu lists the adapters of the models folder that fit the model in use; one
given by path that does not fit is refused in one line naming what differs.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.components import Component

from app.studio.events import GENERATING, INSTANT, user_errors, user_errors_stream
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import info, label, t
from app.studio.state import Studio
from app.studio.voice_training import TrainingState, VoiceTraining, voice_name
from engine.errors import UserError
from engine.models.discovery import default_models_dir, embedded_model_path
from engine.models.settings import LoadSettings
from engine.models.voice import check_voice, voices_for
from engine.store.database import Project

NO_VOICE = "no-voice"
VOICE_PATH = "voice-path"
TRAIN_STEPS = 60


@dataclass
class VoiceWidgets(NoRefreshAfterRun):
    """The side column's voice panel: the voice line, the menu, and training a voice."""

    voice_line: gr.Markdown
    voice_select: gr.Dropdown
    voice_file: gr.Textbox
    voice_scale: gr.Slider
    use_voice: gr.Button
    train_projects: gr.Dropdown
    train_steps: gr.Number
    train: gr.Button
    cancel_train: gr.Button
    train_status: gr.Markdown

    def view_components(self) -> list[Component]:
        return [self.voice_line, self.voice_select, self.voice_scale, self.train_projects]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        saved = project.model if project else None
        spec, menu = studio.host.with_voice(saved), voice_menu(studio)
        return {
            self.voice_line: voice_line(spec, project),
            self.voice_select: gr.update(choices=menu, value=voice_key(spec, menu)),
            self.voice_scale: spec.voice_scale,
            self.train_projects: gr.update(choices=project_names(studio)),
        }

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared, demo)


def layout(studio: Studio) -> VoiceWidgets:
    menu = voice_menu(studio)
    line = gr.Markdown(voice_line(studio.host.spec, None), elem_id="voice-line")
    with gr.Accordion(label("voice.panel"), open=False, elem_id="voice-panel"):
        voice_select = gr.Dropdown(
            choices=menu,
            value=voice_key(studio.host.spec, menu),
            label=label("voice.select"),
            elem_id="voice-select",
        )
        voice_file = gr.Textbox(label=label("voice.path"), elem_id="voice-file", visible=False)
        voice_scale = gr.Slider(
            0.0, 2.0, value=studio.host.spec.voice_scale, step=0.1, label=label("voice.scale")
        )
        use_voice = gr.Button(label("voice.use"), elem_id="use-voice")
        gr.Markdown(label("voice.train_heading"))
        train_projects = gr.Dropdown(
            choices=project_names(studio),
            multiselect=True,
            label=label("voice.train_projects"),
            elem_id="train-projects",
        )
        train_steps = gr.Number(
            TRAIN_STEPS,
            precision=0,
            minimum=1,
            label=label("voice.train_steps"),
            elem_id="train-steps",
        )
        with gr.Row():
            train = gr.Button(label("voice.train"), elem_id="train-voice")
            cancel_train = gr.Button(label("voice.train_cancel"), elem_id="cancel-train")
        train_status = gr.Markdown(elem_id="train-status")
    return VoiceWidgets(
        voice_line=line,
        voice_select=voice_select,
        voice_file=voice_file,
        voice_scale=voice_scale,
        use_voice=use_voice,
        train_projects=train_projects,
        train_steps=train_steps,
        train=train,
        cancel_train=cancel_train,
        train_status=train_status,
    )


def models_dir(studio: Studio) -> Path:
    return studio.models_dir or default_models_dir()


def base_path(spec: LoadSettings) -> Path:
    """The GGUF file a voice goes on top of (the spec is of a local model)."""
    return Path(spec.model_path).expanduser() if spec.model_path else embedded_model_path()


def voice_menu(studio: Studio) -> list[tuple[str, str]]:
    """No voice, the models folder's adapters that fit the model in use, a path."""
    spec = studio.host.spec
    found = [] if spec.base_url else voices_for(models_dir(studio), base_path(spec))
    return [
        (t("voice.choice_none"), NO_VOICE),
        *((path.name, str(path)) for path in found),
        (t("voice.choice_path"), VOICE_PATH),
    ]


def voice_key(spec: LoadSettings, menu: list[tuple[str, str]]) -> str:
    """The menu entry of a spec's voice (one the menu does not list: the path entry)."""
    if not spec.voice_path:
        return NO_VOICE
    return spec.voice_path if spec.voice_path in (key for _, key in menu) else VOICE_PATH


def voice_line(spec: LoadSettings, project: Project | None) -> str:
    """The line under the model panel: the voice in use (the open project's)."""
    name = Path(spec.voice_path).name if spec.voice_path else ""
    if project is None:
        return t("voice.line", file=name, scale=spec.voice_scale) if name else t("voice.line_none")
    if not name:
        return t("voice.line_project_none")
    return t("voice.line_project", file=name, scale=spec.voice_scale)


def project_names(studio: Studio) -> list[str]:
    return [project.name for project in studio.store.list_projects()]


def chosen_voice(choice: str | None, path: str | None) -> Path | None:
    if choice == VOICE_PATH:
        if not (path or "").strip():
            raise UserError(key="error.voice_choose_file")
        return Path(path.strip()).expanduser()
    return None if choice in (None, NO_VOICE) else Path(choice)


def use_voice(
    studio: Studio, w: VoiceWidgets, choice, path, scale, project_id
) -> dict[Component, object]:
    """Load the model with the voice (refused in one line when it does not fit the model in
    use), then keep it with the open project, or as the studio's voice when none is open."""
    voice = chosen_voice(choice, path)
    spec = studio.host.spec
    if voice is not None:
        if spec.base_url:
            raise UserError(key="error.voice_on_server")
        check_voice(voice, base_path(spec))
    scale = float(scale if scale is not None else 1.0)
    saved = LoadSettings(voice_path=str(voice) if voice else "", voice_scale=scale)
    project = studio.project(project_id) if project_id is not None else None
    with studio.host.lease(saved):  # loaded now: a voice llama.cpp refuses is refused here
        pass
    if project is not None:
        voice_fields = {"voice_path": saved.voice_path, "voice_scale": scale}
        project = studio.store.update_project(
            project, model=project.model.model_copy(update=voice_fields)
        )
    else:
        studio.host.spec = spec.model_copy(update={"voice_path": saved.voice_path or None})
        studio.host.spec = studio.host.spec.model_copy(update={"voice_scale": scale})
    if voice is None:
        info("voice.now_none")
    else:
        info("voice.now", file=voice.name, scale=scale)
    return {w.voice_line: voice_line(studio.host.with_voice(saved), project)}


def voice_fields(choice: str) -> dict:
    return gr.update(visible=choice == VOICE_PATH)


def refresh_menu(studio: Studio, w: VoiceWidgets, choice) -> dict:
    """The menu again (the model in use or the models folder may have changed)."""
    return {w.voice_select: gr.update(choices=voice_menu(studio), value=choice)}


def training_line(state: TrainingState) -> str:
    if state.stage == "data":
        if not state.total:
            return t("voice.stage_data_start")
        return t("voice.stage_data", done=state.done, total=state.total)
    if state.stage == "train":
        return t("voice.stage_train", done=state.done, total=state.total)
    return t("voice.stage_export")


def train(studio: Studio, w: VoiceWidgets, names, steps) -> Iterator[dict]:
    """Train a voice from the chosen projects on the model in use, following its stages; it
    ends in the models folder and in the menu."""
    names = list(names or [])
    if not names:
        raise UserError(key="error.voice_choose_projects")
    spec = studio.host.spec
    if spec.base_url:
        raise UserError(key="error.voice_on_server")
    if studio.voice_training is not None:
        raise UserError(key="error.voice_training_running")
    steps = max(1, int(steps or TRAIN_STEPS))
    job = VoiceTraining(studio.db_path, names, spec, models_dir(studio), voice_name(names), steps)
    studio.voice_training = job
    try:
        while not job.ended.wait(0.5):
            if not job.state.finished:
                yield {w.train_status: training_line(job.state)}
        state = job.state
    finally:
        if not job.ended.is_set():  # the page went away: its training goes too
            job.cancel()
        studio.voice_training = None
    if state.stage == "cancelled":
        yield {w.train_status: t("voice.cancelled")}
    elif state.stage == "failed":
        yield {w.train_status: ""}  # the error says what happened; no stale step stays
        stage = t(f"voice.stage_name_{state.failed_in}")
        raise UserError(key="error.voice_train_failed", stage=stage, problem=state.problem)
    else:
        info("voice.trained", file=state.adapter.name)
        yield {
            w.train_status: t("voice.trained", file=state.adapter.name),
            w.voice_select: gr.update(choices=voice_menu(studio)),
        }


def cancel_train(studio: Studio) -> None:
    if studio.voice_training is None:
        raise UserError(key="error.voice_no_training")
    studio.voice_training.cancel()
    info("voice.cancelling")


def on_load(studio: Studio, w: VoiceWidgets) -> dict:
    """The panel's server-made texts, in the language of the browser that opened the page."""
    return {
        w.voice_line: voice_line(studio.host.spec, None),
        w.voice_select: gr.update(choices=voice_menu(studio)),
        w.train_projects: gr.update(choices=project_names(studio)),
    }


def wire(studio: Studio, w: VoiceWidgets, shared: Shared, demo: gr.Blocks) -> None:
    demo.load(
        functools.partial(on_load, studio, w),
        None,
        [w.voice_line, w.voice_select, w.train_projects],
        **INSTANT,
    )
    w.voice_select.change(voice_fields, [w.voice_select], [w.voice_file], **INSTANT)
    w.voice_select.focus(
        user_errors(functools.partial(refresh_menu, studio, w)),
        [w.voice_select],
        [w.voice_select],
        **INSTANT,
    )
    w.train_projects.focus(
        lambda: gr.update(choices=project_names(studio)), None, [w.train_projects], **INSTANT
    )
    # in the model's queue: the voice loads between two generations, never during one
    w.use_voice.click(
        user_errors(functools.partial(use_voice, studio, w)),
        [w.voice_select, w.voice_file, w.voice_scale, shared.open.project_id],
        [w.voice_line],
        **GENERATING,
    )
    w.train.click(
        user_errors_stream(functools.partial(train, studio, w)),
        [w.train_projects, w.train_steps],
        [w.train_status, w.voice_select],
        concurrency_id="voice-training",
        concurrency_limit=1,
    )
    w.cancel_train.click(
        user_errors(functools.partial(cancel_train, studio)), None, None, **INSTANT
    )
