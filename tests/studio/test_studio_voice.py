"""The voice panel's handlers on the scripted fake backend: the menu lists the adapters that fit
the model in use, a voice for another base is refused in one line naming what differs, a chosen
voice is kept with the project and every generation for it loads the model with it, and Train
refuses what it cannot do in one line."""

import shutil

import pytest

from app.studio import model_host
from app.studio.model_host import ModelHost
from app.studio.panels import voice
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from engine.writing.events import Ended
from harness.adapters import write_adapter
from harness.fake_backend import FakeBackend, prose


@pytest.fixture
def models(tmp_path):
    """A models folder: a model, a voice for it, and a voice for another base."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(embedded_model_path(), folder / "smol.gguf")
    write_adapter(folder / "mine.gguf")
    write_adapter(folder / "qwen-voice.gguf", arch="qwen2", layers=24, hidden=896)
    return folder


@pytest.fixture
def studio(db_path, models):
    backend = FakeBackend(lambda request: prose(20, seed=1))
    opened: list[LoadSettings] = []

    def opener(spec):
        opened.append(spec)
        return backend

    studio = Studio(db_path, ModelHost(LoadSettings(), opener), models)
    studio.opened = opened
    return studio


@pytest.fixture
def ui(studio):
    return screen(studio)[1]


def test_the_menu_lists_the_voices_that_fit_and_the_model_menu_no_voice(studio, models):
    keys = [key for _, key in voice.voice_menu(studio)]
    assert keys == [voice.NO_VOICE, str(models / "mine.gguf"), voice.VOICE_PATH]
    assert [c.key for c in model_host.model_choices(models)][1:-2] == [str(models / "smol.gguf")]


def test_a_chosen_voice_is_kept_with_the_project_and_loaded_for_its_generations(studio, ui, models):
    project = studio.store.create_project("Tale", "Write a tale.", 300)
    mine = str(models / "mine.gguf")
    shown = voice.use_voice(studio, ui.voice, mine, "", 0.7, project.id)
    assert shown[ui.voice.voice_line] == "This project's voice: **mine.gguf** at strength 0.7."
    assert studio.opened[-1].voice_path == mine and studio.opened[-1].voice_scale == 0.7
    saved = studio.store.project("Tale").model
    assert (saved.voice_path, saved.voice_scale) == (mine, 0.7)
    view = ui.voice.view_of(studio, studio.store.project("Tale"))
    assert view[ui.voice.voice_select]["value"] == mine and view[ui.voice.voice_scale] == 0.7

    # a generation for another project (no voice of its own) reloads without it, and one for
    # this project with it again
    other = studio.store.create_project("Other", "Write another.", 300)
    for target, expected in [(other, None), (project, mine)]:
        list(studio.follow(target, lambda store, backend: iter([Ended(False)])))
        assert studio.opened[-1].voice_path == expected


def test_no_voice_is_remembered_over_the_studios_own(studio, ui, models):
    studio.host.spec = LoadSettings(voice_path=str(models / "mine.gguf"))
    project = studio.store.create_project("Plain", "Write plainly.", 300)
    shown = voice.use_voice(studio, ui.voice, voice.NO_VOICE, "", 1.0, project.id)
    assert shown[ui.voice.voice_line] == "This project writes without a voice."
    assert studio.store.project("Plain").model.voice_path == ""
    list(studio.follow(project, lambda store, backend: iter([Ended(False)])))
    assert studio.opened[-1].voice_path is None


def test_with_no_project_open_the_choice_is_the_studios_voice(studio, ui, models):
    shown = voice.use_voice(studio, ui.voice, str(models / "mine.gguf"), "", 1.0, None)
    assert shown[ui.voice.voice_line] == "Voice: **mine.gguf** at strength 1."
    assert studio.host.spec.voice_path == str(models / "mine.gguf")


def test_a_voice_for_another_base_is_refused_in_one_line(studio, ui, models):
    project = studio.store.create_project("Tale", "Write a tale.", 300)
    with pytest.raises(UserError) as caught:
        voice.use_voice(
            studio, ui.voice, voice.VOICE_PATH, str(models / "qwen-voice.gguf"), 1.0, project.id
        )
    message = str(caught.value)
    assert "\n" not in message
    assert "qwen2, 24 layers, hidden size 896" in message
    assert "llama, 30 layers, hidden size 576" in message
    assert studio.store.project("Tale").model.voice_path is None  # nothing kept
    assert studio.opened == []  # nothing loaded
    with pytest.raises(UserError, match="Type the path of a voice file"):
        voice.use_voice(studio, ui.voice, voice.VOICE_PATH, " ", 1.0, project.id)


def test_a_voice_on_a_server_model_is_refused(studio, ui, models):
    studio.host.spec = LoadSettings(base_url="http://127.0.0.1:9/v1", model_name="x")
    assert [key for _, key in voice.voice_menu(studio)] == [voice.NO_VOICE, voice.VOICE_PATH]
    with pytest.raises(UserError, match="not to a server"):
        voice.use_voice(studio, ui.voice, str(models / "mine.gguf"), "", 1.0, None)
    with pytest.raises(UserError, match="not to a server"):
        next(voice.train(studio, ui.voice, ["Tale"], 2))


def test_train_refuses_without_projects_and_while_one_trains(studio, ui):
    with pytest.raises(UserError, match="Choose one or more projects"):
        next(voice.train(studio, ui.voice, [], 2))
    with pytest.raises(UserError, match="No voice is being trained"):
        voice.cancel_train(studio)
    studio.voice_training = object()
    with pytest.raises(UserError, match="being trained already"):
        next(voice.train(studio, ui.voice, ["Tale"], 2))


def test_too_little_text_fails_in_one_line_and_leaves_nothing(studio, ui, models):
    """The data step refuses a project of a few words (before any model loads): the training
    ends in one line naming the stage, and the models folder is as it was."""
    studio.store.create_project("Short", "Write a little.", 300)
    before = sorted(models.iterdir())
    # the refusal is the page's message box (a warning outside a page), and nothing changes
    message = "Voice training failed while back-translating: Too little text"
    with pytest.warns(UserWarning, match=message):
        list(voice.user_errors_stream(voice.train)(studio, ui.voice, ["Short"], 2))
    assert sorted(models.iterdir()) == before and studio.voice_training is None
