"""The model panel in Chromium: download a catalogue entry from a local Hub (HF_ENDPOINT), use
it, and write with it; the studio process then has the downloaded file open."""

import pytest

from engine.models.catalogue import find_entry
from engine.models.discovery import embedded_model_path
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from tests.hub_server import HubServer
from tests.studio.conftest import StudioServer, open_project, screenshot
from tests.studio.test_studio_browser import MODEL_TIMEOUT_MS, wait_text

pytestmark = pytest.mark.slow

KEY = "longwriter-llama3.1-8b-q4_k_m"


def test_download_a_catalogue_model_then_write_with_it(browser, tmp_path, monkeypatch):
    entry = find_entry(KEY)
    models = tmp_path / "models"
    models.mkdir()
    store = Store(tmp_path / "projects.db")
    project = store.create_project("Orchard", "Write a short piece about an orchard.", 60)
    plan = Plan(sections=[PlanSection(title="Orchard", main_point="Apples at dusk.", words=60)])
    store.save_plan(project, plan)
    store.close()
    repos = {entry.repo_id: {entry.filename: embedded_model_path().read_bytes()}}
    with HubServer(repos, chunk_delay_s=0.05) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        studio = StudioServer(
            tmp_path / "projects.db", tmp_path / "studio.log", "--models-dir", str(models)
        )
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            open_project(page, studio.url, "Orchard")
            page.click("#model-panel")
            page.locator("#download-select input").click()
            page.get_by_role("option", name="LongWriter-llama3.1-8b Q4_K_M", exact=False).click()
            page.click("#download-model")
            wait_text(page, "#download-status", "^Downloaded", 120_000)
            downloaded = models / entry.filename
            assert downloaded.read_bytes() == embedded_model_path().read_bytes()
            assert entry.filename in page.locator("#model-select input").input_value()
            page.click("#use-model")
            wait_text(page, "#model-info", "CPU · context", 60_000)
            screenshot(page, "model-download")

            page.click("#write")
            wait_text(page, "#progress", "^Done", MODEL_TIMEOUT_MS)
            maps = open(f"/proc/{studio.process.pid}/maps").read()
            assert str(downloaded) in maps  # llama.cpp wrote with the downloaded file
            page.context.close()
        finally:
            studio.stop()
