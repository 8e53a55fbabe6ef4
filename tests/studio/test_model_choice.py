"""Choosing the model in the studio's handlers, on the scripted fake model: the suggestion for
a machine capped by LONGWRITE_MEMORY_LIMIT_MB, a model found in a fake Ollama store used with
Use this, the header every page refreshes, a reopened project's offer of its own model, and the
welcome's Download of the suggestion from a local Hub."""

import gradio as gr
import pytest

from app.studio.model_host import ModelHost, same_model
from app.studio.panels import model as model_panel
from app.studio.panels import projects, welcome
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
from engine.models.catalogue import find_entry
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from harness.fake_backend import FakeBackend, prose
from harness.fake_stores import ollama_model
from tests.hub_server import HubServer

QWEN_3B = "qwen2.5-3b-instruct-q4_k_m"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME whose Ollama holds a copy of the embedded GGUF as smollm2:135m, on a machine
    capped at 6,000 MB."""
    for name in ("OLLAMA_MODELS", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "6000")
    ollama_model(tmp_path / "home", "smollm2", "135m", embedded_model_path())
    return tmp_path / "home"


@pytest.fixture
def studio(home, tmp_path):
    backend = FakeBackend(lambda request: prose(30, seed=len(backend.requests)))
    host = ModelHost(LoadSettings(), opener=lambda _spec: backend)
    return Studio(tmp_path / "projects.db", host, tmp_path / "models")


@pytest.fixture
def ui(studio):
    return screen(studio)[1]


def blob(home):
    return str(next((home / ".ollama" / "models" / "blobs").iterdir()))


def test_the_welcome_suggests_what_fits_and_lists_the_ollama_model(studio, ui, home):
    w = ui.welcome
    view = welcome.machine_view(studio, w)
    line = view[w.suggestion]
    assert line.startswith("**Suggested for this machine:** Qwen2.5-3B-Instruct Q4_K_M")
    assert "needs 3.7 GB of memory" in line and "(6.3 GB free)" in line
    assert "tokens/s (an estimate: 40 GB/s of memory bandwidth" in line
    assert view[w.download]["visible"] and view[w.suggested_key] == QWEN_3B
    assert view[w.found_paths] == [blob(home)]
    assert view[w.found_rows[0]]["visible"] and not view[w.found_rows[1]]["visible"]
    row = view[w.found_lines[0]]
    assert row.startswith("**smollm2:135m** · Ollama · Q4_1 · 0.1 GB · needs 0.8 GB")
    assert "more than the free memory" not in row
    menu = model_panel.model_menu(studio)
    assert ("Ollama: smollm2:135m", blob(home)) in menu


def test_use_this_switches_the_model_and_the_header_names_it(studio, ui, home):
    header = model_panel.header_now(studio, ui.model)
    assert "embedded test model" in header[ui.model.header]
    paths = welcome.machine_view(studio, ui.welcome)[ui.welcome.found_paths]
    shown = welcome.use_found(studio, ui.shared, 0, paths)
    assert shown[ui.shared.model_header] == "Writing with: **smollm2:135m (Ollama)**"
    assert studio.host.spec.model_path == blob(home) and studio.host.placement.n_ctx == 8192
    with pytest.raises(UserError, match="no longer listed"):
        welcome.use_found(studio, ui.shared, 1, paths)


def test_another_page_refreshes_its_header_only_after_a_switch(studio, ui, home):
    shown = model_panel.header_now(studio, ui.model)[ui.model.header_changes]
    assert model_panel.header_if_changed(studio, ui.model, shown) == {}
    studio.host.choose(LoadSettings(model_path=blob(home)))
    fresh = model_panel.header_if_changed(studio, ui.model, shown)
    assert "smollm2:135m" in fresh[ui.model.header]
    assert fresh[ui.model.header_changes] == shown + 1


def test_a_reopened_project_offers_its_model_and_the_page_switches_only_when_asked(
    studio, ui, home
):
    created = projects.create(studio, ui.projects, ui.shared.view, "Tide")
    project = studio.store.project("Tide")
    assert created[ui.model.offer]["visible"] is False  # made with the model in use
    studio.host.choose(LoadSettings(model_path=blob(home)))
    view = ui.model.view_of(studio, project)
    assert view[ui.model.offer]["visible"] and view[ui.model.use_saved]["visible"]
    assert view[ui.model.use_saved]["value"] == (
        "Use its model (SmolLM2-135M, the embedded test model (for trying the studio, "
        "not for reading))"
    )
    assert "now writes with smollm2:135m (Ollama)" in view[ui.model.offer]["value"]
    assert studio.host.spec.model_path == blob(home)  # opening it swapped nothing
    done = model_panel.use_saved(studio, ui.model, project.id)
    assert same_model(studio.host.spec, LoadSettings())
    assert done[ui.model.offer]["visible"] is False
    assert "embedded test model" in done[ui.model.header]
    with pytest.raises(UserError, match="written with another model"):
        model_panel.use_saved(studio, ui.model, project.id)


def test_a_generation_saves_the_model_with_its_project(studio, ui, home):
    project = studio.store.create_project("Tide", "Write a tide.", 60)
    studio.host.choose(LoadSettings(model_path=blob(home)))
    list(studio.follow(project, lambda _store, backend: iter(())))
    assert studio.store.project("Tide").model.model_path == blob(home)


def test_no_switch_while_a_generation_runs(studio, ui, home):
    studio.jobs[1] = object()
    with pytest.raises(UserError, match="running"):
        welcome.use_found(studio, ui.shared, 0, [blob(home)])
    assert studio.host.spec.model_path is None


def test_a_machine_too_small_for_the_catalogue_is_told_so(studio, ui, monkeypatch):
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "900")
    view = welcome.machine_view(studio, ui.welcome)
    assert view[ui.welcome.suggestion].startswith("No catalogue model fits in the 0.9 GB")
    assert view[ui.welcome.download]["visible"] is False
    assert "more than the free memory" not in view[ui.welcome.found_lines[0]]  # 0.8 GB fits
    with pytest.raises(UserError, match="No model is suggested"):
        list(welcome.download(studio, ui.welcome, None))


def test_the_welcome_downloads_the_suggestion_and_lists_it(studio, ui, home, monkeypatch):
    entry = find_entry(QWEN_3B)
    repos = {entry.repo_id: {entry.filename: embedded_model_path().read_bytes()}}
    with HubServer(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        updates = list(welcome.download(studio, ui.welcome, QWEN_3B, progress=lambda *a, **k: 0))
    assert updates[0][ui.welcome.download_status].startswith("Downloading")
    final = updates[-1]
    assert final[ui.welcome.download] == gr.update(visible=False)
    assert final[ui.welcome.suggestion].endswith("It is downloaded: choose it in the model menu.")
    assert str(studio.models_dir / entry.filename) in final[ui.welcome.found_paths]
    assert studio.download_cancel is None
