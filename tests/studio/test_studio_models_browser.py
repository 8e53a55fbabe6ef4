"""Bring your own model, in Chromium on the real embedded model: a studio on a machine capped at
6,000 MB, whose HOME holds an Ollama store (a copy of the embedded GGUF as smollm2:135m),
suggests a model that fits and lists the Ollama model; Use this loads the blob where it lies,
the header of every page names it, a plan is drafted and written on it, and reopening the
project after a switch offers its model back."""

import pytest

from engine.models.discovery import embedded_model_path
from engine.store.database import Store
from harness.fake_stores import ollama_model
from tests.studio.conftest import StudioServer, screenshot
from tests.studio.test_studio_browser import MODEL_TIMEOUT_MS, wait_text

pytestmark = pytest.mark.slow

INSTRUCTION = "Write a 120-word note about rain on a tin roof."
OLLAMA_HEADER = r"Writing with: smollm2:135m \(Ollama\)"
EMBEDDED_HEADER = "Writing with: SmolLM2-135M, the embedded test model"


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own-model")
    home = folder / "home"
    blob = ollama_model(home, "smollm2", "135m", embedded_model_path())
    env = {
        "HOME": str(home),
        "OLLAMA_MODELS": str(home / ".ollama" / "models"),
        "HF_HOME": str(home / ".cache" / "huggingface"),
        "HF_HUB_CACHE": str(home / ".cache" / "huggingface" / "hub"),
        "LONGWRITE_MEMORY_LIMIT_MB": "6000",
    }
    server = StudioServer(folder / "projects.db", folder / "studio.log", env=env)
    yield server, blob
    server.stop()


def the_project(db_path):
    """The one project, and the words of its text."""
    store = Store(db_path)
    try:
        (listed,) = store.list_projects()
        return store.project(listed.name), listed.words
    finally:
        store.close()


def test_use_a_found_model_write_with_it_and_get_it_back(machine, browser):
    studio, blob = machine
    writer = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = writer.new_page()
    page.goto(studio.url)
    page.locator("#welcome").wait_for(timeout=30_000)
    wait_text(page, "#welcome-suggestion", "Suggested for this machine: Qwen2.5-3B", 30_000)
    suggestion = page.locator("#welcome-suggestion").inner_text()
    assert "needs 3.7 GB of memory" in suggestion and "(6.3 GB free)" in suggestion
    assert "an estimate" in suggestion and "tokens/s" in suggestion
    assert page.locator("#welcome-download").is_visible()
    assert "135M test model" in page.locator("#welcome-test-note").inner_text()
    found = page.locator("#found-0").inner_text()
    assert found.startswith("smollm2:135m · Ollama · Q4_1"), found
    assert page.locator("#found-1").is_hidden()
    wait_text(page, "#model-header", EMBEDDED_HEADER, 20_000)
    screenshot(page, "welcome-models")

    other = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    other.goto(studio.url)
    wait_text(other, "#model-header", EMBEDDED_HEADER, 30_000)

    page.click("#use-found-0")
    wait_text(page, "#model-header", OLLAMA_HEADER, 30_000)
    page.get_by_text("Now writing with").first.wait_for(timeout=10_000)
    wait_text(other, "#model-header", OLLAMA_HEADER, 15_000)  # another page follows the switch

    page.click("#model-panel")
    page.locator("#model-select input").click()
    assert page.get_by_role("option", name="Ollama: smollm2:135m").is_visible()
    page.keyboard.press("Escape")

    page.click("#start-own")
    page.locator("#instruction textarea").fill(INSTRUCTION)
    page.click("#brief-draft")
    page.wait_for_function(
        "() => document.querySelectorAll('#plan [data-testid^=\"cell-\"]').length > 0",
        timeout=MODEL_TIMEOUT_MS,
    )
    page.click("#plan-write")
    wait_text(page, "#progress", "Done")
    project, words = the_project(studio.db_path)
    assert project.model.model_path == str(blob)  # loaded where it lies, saved with the project
    assert words > 0

    # back to the embedded model from the model panel; the reopened project offers its own
    page.locator("#model-select input").click()
    page.get_by_role("option", name="Embedded: SmolLM2-135M-Instruct (Q4_1)").click()
    page.click("#use-model")
    wait_text(page, "#model-header", EMBEDDED_HEADER, 30_000)
    page.goto(studio.url)  # the page reopens its last project
    wait_text(page, "#model-offer", "This project was written with smollm2:135m", 30_000)
    offer = page.locator("#use-saved-model")
    assert offer.inner_text() == "Use its model (smollm2:135m (Ollama))"
    assert other.locator("#model-offer").is_hidden()  # only the page that reopened it
    screenshot(page, "model-offer")
    offer.click()
    wait_text(page, "#model-header", OLLAMA_HEADER, 30_000)
    page.locator("#model-offer").wait_for(state="hidden", timeout=10_000)
    wait_text(other, "#model-header", OLLAMA_HEADER, 15_000)
    writer.close()
    other.context.close()
