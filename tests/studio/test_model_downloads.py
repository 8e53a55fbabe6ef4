"""The model panel's download of a catalogue entry from a local Hub: progress, the checked file
in the models folder, Cancel leaving nothing behind, and the placement shown for a model."""

import threading

import pytest

from app.studio.model_downloads import download_entry, download_label, downloadable
from app.studio.model_host import ModelHost, describe, model_choices
from engine.errors import UserError
from engine.models.catalogue import find_entry
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from tests.hub_server import HubServer

KEY = "longwriter-llama3.1-8b-q4_k_m"


@pytest.fixture
def hub(monkeypatch):
    """The catalogue entry's repo on a local Hub, serving the embedded model under its name."""
    entry = find_entry(KEY)
    repos = {entry.repo_id: {entry.filename: embedded_model_path().read_bytes()}}
    with HubServer(repos, chunk_delay_s=0.02) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield entry


def test_download_reports_progress_and_lists_the_model(hub, tmp_path):
    assert KEY in [entry.key for entry in downloadable(tmp_path)]
    updates = list(download_entry(KEY, tmp_path, threading.Event()))
    fractions = [u.fraction for u in updates if u.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(0.0 < f < 1.0 for f in fractions)
    path = updates[-1].path
    assert path == tmp_path / hub.filename
    assert path.read_bytes() == embedded_model_path().read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [hub.filename]
    assert KEY not in [entry.key for entry in downloadable(tmp_path)]
    assert str(path) in [choice.key for choice in model_choices(tmp_path)]


@pytest.mark.parametrize("when", ["before", "midway"])
def test_cancel_keeps_nothing(hub, tmp_path, when):
    cancel = threading.Event()
    if when == "before":
        cancel.set()
    with pytest.raises(UserError, match="cancelled"):
        for update in download_entry(KEY, tmp_path, cancel):
            if update.fraction and update.fraction > 0.1:
                cancel.set()
    assert list(tmp_path.iterdir()) == []


def test_labels_say_size_languages_and_license():
    label = download_label(find_entry(KEY))
    assert "4.9 GB" in label and "en, zh" in label and "llama3.1" in label
    assert "(approx.)" in download_label(find_entry("qwen2.5-7b-instruct-q4_k_m"))


def test_chosen_model_shows_device_context_and_kv_cache(monkeypatch):
    host = ModelHost(LoadSettings())
    info = host.choose(LoadSettings(n_ctx=4096))
    line = describe(info, host.placement)
    assert "CPU" in line and "context 4,096 tokens" in line and "KV cache f16 0.09 GB" in line
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "100")
    with pytest.raises(UserError, match="smaller quantization"):
        host.choose(LoadSettings())
    assert host.spec == LoadSettings(n_ctx=4096)  # the refused model did not replace the choice
