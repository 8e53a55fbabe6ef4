"""One LoadSettings object from the command line to llama.cpp: the flags arrive in llama.cpp's
constructor, no module global holds a setting, and a project saves and reloads its settings."""

import importlib
import pkgutil

import pytest
from click.testing import CliRunner

import engine.models
import engine.models.backends
from app.cli import LANGUAGE, cli
from engine.models import hardware
from engine.models.backends import llama_cpp
from engine.models.settings import LoadSettings
from engine.store.database import Store
from harness.fake_backend import FakeBackend, prose


class _Loaded(Exception):
    """Raised by the stand-in Llama once it has recorded its arguments: nothing is loaded."""


@pytest.fixture
def llama_calls(monkeypatch):
    """llama-cpp-python's Llama replaced by a recorder; yields the keyword arguments of each
    construction (the memory plan and the GGUF's metadata before it are real)."""
    calls = []

    def record(**kwargs):
        calls.append(kwargs)
        raise _Loaded

    monkeypatch.setattr(llama_cpp, "Llama", record)
    return calls


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_the_flags_arrive_in_llama_cpps_constructor(llama_calls):
    result = _invoke(
        "plan", "a story about a lighthouse", "--words", "300",
        "--gpu-layers", "0", "--ctx", "2048", "--kv-cache", "q8_0", "--threads", "3",
    )  # fmt: skip
    assert isinstance(result.exception, _Loaded), result.output
    (call,) = llama_calls
    assert call["n_gpu_layers"] == 0
    assert call["n_ctx"] == 2048
    assert call["type_k"] == call["type_v"] == llama_cpp.llama_cpp.GGML_TYPE_Q8_0
    assert call["flash_attn"] is True  # a q8_0 cache needs it
    assert call["n_threads"] == 3


def test_no_flash_attn_and_the_defaults_arrive_too(llama_calls):
    result = _invoke("plan", "a story", "--words", "300", "--no-flash-attn")
    assert isinstance(result.exception, _Loaded), result.output
    (call,) = llama_calls
    assert call["flash_attn"] is False
    assert call["type_k"] == llama_cpp.llama_cpp.GGML_TYPE_F16
    assert call["n_threads"] == llama_cpp.default_threads()


def test_a_bad_gpu_layers_value_is_a_usage_error(llama_calls):
    result = _invoke("plan", "a story", "--words", "300", "--gpu-layers", "lots")
    assert result.exit_code == 2 and "--gpu-layers" in result.output
    assert not llama_calls


def test_no_module_global_holds_a_setting(llama_calls):
    """What one command chose does not leak into a later load in the same process."""
    assert not any(hasattr(hardware, name) for name in ("configure", "current_settings"))
    for module in pkgutil.walk_packages(engine.models.__path__, "engine.models."):
        loaded = importlib.import_module(module.name)
        held = [name for name, value in vars(loaded).items() if isinstance(value, LoadSettings)]
        assert not held, f"{module.name} holds settings in {held}"
    _invoke("plan", "a story", "--words", "300", "--gpu-layers", "0", "--kv-cache", "q8_0")
    with pytest.raises(_Loaded):
        engine.models.backends.open_backend()  # a library load: its own defaults
    chosen, library = llama_calls
    assert chosen["type_k"] == llama_cpp.llama_cpp.GGML_TYPE_Q8_0
    assert library["type_k"] == llama_cpp.llama_cpp.GGML_TYPE_F16


@pytest.fixture
def opened(monkeypatch):
    """Every backend a command opens is the scripted fake; yields the settings each got."""
    settings = []

    def open_fake(load=None):
        settings.append(load)
        return FakeBackend(lambda request: prose(60), context_length=8192)

    monkeypatch.setattr(engine.models.backends, "open_backend", open_fake)
    monkeypatch.setitem(LANGUAGE, "chosen", "en")
    return settings


def test_a_project_saves_its_settings_and_a_resume_loads_them(opened, tmp_path):
    db = str(tmp_path / "projects.db")
    args = ["--words", "60", "--mode", "single", "--db", db, "--project", "rain"]
    flags = ["--gpu-layers", "0", "--ctx", "2048", "--kv-cache", "q8_0", "--no-flash-attn"]
    result = _invoke("write", "a note about rain", *args, *flags, "--threads", "2")
    assert result.exit_code == 0, result.output
    saved = Store(db).project("rain").model
    assert (saved.gpu_layers, saved.n_ctx, saved.kv_cache, saved.flash_attn) == (
        0, 2048, "q8_0", False
    )  # fmt: skip
    assert saved.n_threads is None  # threads belong to the machine, not the project
    assert opened[0].n_threads == 2

    result = _invoke("write", "--resume", "rain", "--db", db, "--kv-cache", "f16")
    assert result.exit_code == 0, result.output
    resumed = opened[1]
    assert (resumed.gpu_layers, resumed.n_ctx, resumed.flash_attn) == (0, 2048, False)
    assert resumed.kv_cache == "f16"  # given now, over the saved q8_0
    assert Store(db).project("rain").model.kv_cache == "f16"


def test_settings_saved_before_they_grew_still_load():
    old = '{"model_path": "/m/a.gguf", "base_url": null, "model_name": null, "n_ctx": 4096}'
    settings = LoadSettings.model_validate_json(old)
    assert settings.model_path == "/m/a.gguf" and settings.n_ctx == 4096
    assert (settings.gpu_layers, settings.kv_cache, settings.flash_attn) == (None, "f16", None)
    assert "n_threads" not in LoadSettings(n_threads=4).model_dump_json()


def test_a_new_model_on_resume_replaces_the_saved_model_name_and_context():
    saved = LoadSettings(base_url="http://x/v1", model_name="m", n_ctx=4096, gpu_layers=3)
    resumed = saved.updated_by(LoadSettings(model_path="/m/b.gguf"))
    assert resumed.backend == "gguf" and resumed.model_path == "/m/b.gguf"
    assert (resumed.base_url, resumed.model_name, resumed.n_ctx) == (None, None, None)
    assert resumed.gpu_layers == 3  # the saved load options stay
    assert saved.updated_by(LoadSettings()) == saved
    assert not LoadSettings(n_threads=2).chosen and LoadSettings(kv_cache="f16").chosen


def test_the_studios_load_options_hold_for_every_model_the_panel_chooses(tmp_path):
    from app.studio.model_host import EMBEDDED, ModelHost
    from app.studio.panels import model as model_panel
    from app.studio.state import Studio
    from app.studio.ui import screen

    started = LoadSettings(base_url="http://x/v1", model_name="m", n_ctx=4096, gpu_layers=0)
    studio = Studio(
        tmp_path / "projects.db", ModelHost(started.model_copy(update={"kv_cache": "q8_0"}))
    )
    model_panel.use_model(studio, screen(studio)[1].model, EMBEDDED, "", "", "")
    chosen = studio.host.spec
    assert chosen.backend == "gguf" and chosen.model_path is None  # the embedded model
    assert (chosen.n_ctx, chosen.gpu_layers, chosen.kv_cache) == (4096, 0, "q8_0")
    assert studio.host.placement.kv_cache == "q8_0" and studio.host.placement.n_ctx == 4096


def test_click_stays_in_app():
    """The engine and training import no click: their commands live in app."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for folder in ("engine", "training"):
        for path in (root / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                assert not any(n.split(".")[0] == "click" for n in names), path
