"""A voice made and used in the studio, for real: Train (voice data, voice train and export
gguf-lora on the embedded model, one step) ends with the adapter in the models folder and in the
Voice menu; Cancel during the training step stops it and leaves no file there; and in Chromium
the studio writes a 1,000-word piece with a voice, after refusing a voice for another base in
one visible line.

The writer's projects are two of four sections of about 260 words each by the synthetic writer
(the 2,000 words a voice needs), so the model back-translates only eight sections.
"""

import os
import random
import re
import time

import pytest

from app.studio.model_host import ModelHost
from app.studio.panels import voice
from app.studio.state import Studio
from app.studio.ui import screen
from bench.synthetic_writer import section
from engine.metrics import count_words
from engine.models.settings import LoadSettings
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from harness.adapters import write_adapter, write_zero_voice
from tests.studio.conftest import StudioServer, open_project, screenshot
from tests.studio.test_studio_browser import MODEL_TIMEOUT_MS, wait_text

# a training on the embedded model takes minutes; on a CPU shared with other jobs, many more
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]

PROJECTS = [f"Story {n}" for n in range(1, 5)]
TRAINING_TIMEOUT_S = 2400


def writers_projects(db_path, names: list[str], words: int) -> None:
    """Finished projects of four sections of `words` words in the synthetic writer's voice."""
    store = Store(db_path)
    rng = random.Random(7)
    for name in names:
        titles = [f"Scene {n}" for n in range(1, 5)]
        rows = [PlanSection(title=t, main_point=f"{t}.", words=words) for t in titles]
        project = store.create_project(name, "Write a short story in the second person.", 520)
        store.save_plan(project, Plan(sections=rows))
        for row in store.plan(project).sections:
            version = store.start_section(project, row.id)
            store.save_section(version, section(rng, words), 0, done=True)
    store.close()


def training_studio(root, names=PROJECTS, words=130) -> Studio:
    writers_projects(root / "projects.db", names, words)
    (root / "models").mkdir()
    return Studio(root / "projects.db", ModelHost(LoadSettings()), root / "models")


def follow(studio, steps: int, until=lambda _line: False) -> list[str]:
    """Press Train on every project and read its status lines until it ends (pressing Cancel
    once `until` the last line says so)."""
    w = screen(studio)[1].voice
    lines = []
    started = time.monotonic()
    names = [project.name for project in studio.store.list_projects()]
    for update in voice.train(studio, w, names, steps):
        lines.append(update[w.train_status])
        assert time.monotonic() - started < TRAINING_TIMEOUT_S, lines[-1]
        if studio.voice_training is not None and until(lines[-1]):
            voice.cancel_train(studio)
            until = lambda _line: False  # noqa: E731 — once
    return lines


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The studio's Train, to the end, on the embedded model."""
    root = tmp_path_factory.mktemp("voice-train")
    studio = training_studio(root, PROJECTS[:2], 260)
    started = time.monotonic()
    lines = follow(studio, steps=1)
    seconds = time.monotonic() - started
    print(f"studio voice training: {seconds:.0f} s")
    return studio, lines, root / "models"


def test_train_ends_with_the_adapter_in_the_models_folder_and_the_menu(trained):
    studio, lines, models = trained
    adapters = sorted(models.glob("*.gguf"))
    assert len(adapters) == 1 and re.fullmatch(r"voice-story-\d\.gguf", adapters[0].name)
    assert lines[-1].startswith(f"Voice trained: {adapters[0].name} is in the models folder")
    assert any(line.startswith("Training a voice: back-translating your") for line in lines)
    assert "Training a voice: exporting and checking the adapter…" in lines
    assert str(adapters[0]) in [key for _, key in voice.voice_menu(studio)]
    assert os.listdir(models) == [adapters[0].name]  # no partial file beside it


def test_cancel_during_the_training_step_stops_it_and_keeps_nothing(tmp_path):
    """Two projects of longer sections: fewer rows to back-translate before the step."""
    studio = training_studio(tmp_path, PROJECTS[:2], 260)
    processes = []

    def training(line: str) -> bool:
        if line.startswith("Training a voice: step"):
            processes.append(studio.voice_training.process)
            return True
        return False

    lines = follow(studio, steps=50, until=training)
    assert lines[-1] == "Voice training cancelled; nothing was kept."
    assert re.match(r"Training a voice: step \d+ of 50\.", lines[-2])
    assert processes and processes[0].poll() is not None  # the training process is gone
    assert processes[0].args[3:5] == ["voice", "train"]
    assert list((tmp_path / "models").iterdir()) == []
    assert studio.voice_training is None


def test_the_studio_writes_a_thousand_words_with_a_voice(browser, tmp_path):
    """A voice llama.cpp loads on the embedded model (made in seconds: the training above is
    slow, and its own export is checked against the merged model)."""
    models = tmp_path / "models"
    models.mkdir()
    adapter = write_zero_voice(models / "my-voice.gguf")
    other = write_adapter(tmp_path / "qwen-voice.gguf", arch="qwen2", layers=24, hidden=896)
    db_path = tmp_path / "projects.db"
    store = Store(db_path)
    project = store.create_project("Ferry", "Write a 1,000-word story about a night ferry.", 1000)
    titles = ["The pier", "Boarding", "The crossing", "Mara", "Arrival"]
    plan = Plan(sections=[PlanSection(title=t, main_point=f"{t}.", words=200) for t in titles])
    store.save_plan(project, plan)
    store.close()
    studio = StudioServer(db_path, tmp_path / "studio.log", "--models-dir", str(models))
    try:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        open_project(page, studio.url, "Ferry")
        wait_text(page, "#voice-line", "This project writes without a voice", 30_000)
        page.click("#voice-panel")

        # a voice for another base, given by path: one visible line naming what differs
        page.locator("#voice-select input").click()
        page.get_by_role("option", name="A voice file path…").click()
        page.locator("#voice-file textarea").wait_for(state="visible", timeout=30_000)
        page.locator("#voice-file textarea").fill(str(other))
        page.click("#use-voice")
        page.get_by_text("qwen2, 24 layers, hidden size 896").first.wait_for(timeout=90_000)
        assert page.get_by_text("llama, 30 layers, hidden size 576").first.is_visible()

        # the trained voice from the menu: loaded, kept with the project, shown
        page.locator("#voice-select input").click()
        page.get_by_role("option", name=adapter.name).click()
        page.click("#use-voice")
        wait_text(page, "#voice-line", f"This project's voice: {adapter.name}", 60_000)
        screenshot(page, "voice")

        page.click("#write")
        wait_text(page, "#progress", "^(?!Done)", 20_000)
        wait_text(page, "#progress", "^Done", MODEL_TIMEOUT_MS * 5)
        page.context.close()
    finally:
        studio.stop()
    store = Store(db_path)
    project = store.project("Ferry")
    run = store.runs(project)[-1]
    words = count_words("\n\n".join(s.text for s in store.sections(project)))
    store.close()
    print(f"voice piece: {words} words, run stats words {run.stats['words']}")
    assert words >= 900
    assert project.model.voice_path == str(adapter) and project.model.voice_scale == 1.0
    assert run.stats["voice"] == str(adapter) and run.stats["voice_scale"] == 1.0
