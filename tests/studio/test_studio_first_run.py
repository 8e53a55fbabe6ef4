"""The first ten minutes in Chromium, from an empty database on the embedded model: the welcome,
a sample project drafted and written through each tab's primary button, and a project made
from an instruction typed with no project open."""

import pytest

from engine.store.database import Store
from tests.studio.conftest import open_studio, screenshot
from tests.studio.test_studio_browser import MODEL_TIMEOUT_MS, wait_text, wait_until

pytestmark = pytest.mark.slow


def projects(db_path) -> dict:
    store = Store(db_path)
    try:
        return {p.name: store.project(p.name) for p in store.list_projects()}
    finally:
        store.close()


PLAN_ROWS = (
    "new Set(Array.from(document.querySelectorAll('#plan [data-testid^=\"cell-\"]'))"
    ".map(cell => cell.dataset.testid.split('-')[1])).size"
)


def plan_rows(page) -> int:
    """Rows the plan table shows (its cells are named cell-ROW-COLUMN)."""
    return page.evaluate(PLAN_ROWS)


def test_sample_then_draft_then_write_from_the_welcome(studio, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(studio.url)
    page.locator("#welcome").wait_for(timeout=30_000)
    screenshot(page, "welcome")

    page.click("#try-sample")
    wait_text(page, "#project-title", "Sample", 20_000)
    assert "1,500-word story" in page.locator("#instruction textarea").input_value()
    assert page.locator("#total-words input").input_value() == "1500"
    assert page.locator("#welcome").is_hidden()
    screenshot(page, "sample-brief")

    page.click("#brief-draft")
    page.wait_for_function(f"{PLAN_ROWS} > 1", timeout=MODEL_TIMEOUT_MS)
    assert page.locator("#plan-write").is_visible()  # the Plan tab shows, ending with Write
    (sample,) = projects(studio.db_path).values()
    store = Store(studio.db_path)
    assert store.plan(sample).total_words == 1500
    store.close()
    screenshot(page, "sample-plan")

    page.click("#plan-write")
    page.wait_for_function(
        "(document.querySelector('#active-section')?.innerText || '').split(/\\s+/).length > 6",
        timeout=MODEL_TIMEOUT_MS,
    )
    assert page.locator("#stop").is_visible()  # the Write tab shows
    screenshot(page, "sample-writing")
    page.click("#stop")
    wait_text(page, "#progress", "Stopped")
    context.close()


def test_an_instruction_with_no_project_open_creates_and_plans_one(studio, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    open_studio(page, studio.url)
    wait_text(page, "#project-title", "No project open", 20_000)
    page.click("#brief-draft")
    page.get_by_text("Describe the piece first").first.wait_for(timeout=20_000)
    page.wait_for_timeout(2_000)  # the press after it must not add "open a project first"
    assert page.get_by_text("Open a project from the list").count() == 0

    page.locator("#instruction textarea").fill(
        "Write a 600-word story about a beekeeper who hears the hive sing."
    )
    page.click("#brief-draft")
    wait_text(page, "#project-title", "Write a 600-word story about a", 20_000)
    page.wait_for_function(f"{PLAN_ROWS} > 0", timeout=MODEL_TIMEOUT_MS)
    name = "Write a 600-word story about a"
    wait_until(page, lambda: name in projects(studio.db_path))
    project = projects(studio.db_path)[name]
    assert project.target_words == 600
    store = Store(studio.db_path)
    wait_until(page, lambda: store.plan(project) is not None)
    plan = store.plan(project)
    store.close()
    assert plan.total_words == 600
    wait_until(page, lambda: plan_rows(page) == len(plan.sections))
    context.close()
