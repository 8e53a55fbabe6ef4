"""A two-level (novel) project in Chromium: chapter groups in the document, a recap edited with
a visible success message, an invalid chapter edit refused with a visible one-line error."""

import pytest

from engine.schema import Chapter, Plan, PlanSection
from engine.store.database import Store
from tests.studio.conftest import StudioServer, open_project, replace_text, screenshot
from tests.studio.test_studio_browser import wait_until

pytestmark = pytest.mark.slow  # a real studio and Chromium


def edit_chapter_cell(page, old_text: str, new_text: str) -> None:
    """Double-click a cell of the chapters table, type, press Enter."""
    page.locator("#chapters").get_by_text(old_text, exact=True).filter(
        visible=True
    ).first.dblclick()
    editor = page.locator("#chapters textarea[aria-label='Edit cell']").filter(visible=True).first
    editor.fill(new_text)
    editor.press("Enter")


def recaps_of(db_path):
    store = Store(db_path)
    try:
        return store.recaps(store.project("Ferry"))
    finally:
        store.close()


@pytest.fixture(scope="module")
def novel(tmp_path_factory):
    """Three chapters (the last without scenes yet), every scene written, two recaps."""
    folder = tmp_path_factory.mktemp("novel")
    db_path = folder / "projects.db"
    chapters = [
        Chapter(id=f"c{i}", title=f"Part {i}", summary=f"Part {i} happens.", words=60)
        for i in (1, 2, 3)
    ]
    scenes = [
        PlanSection(
            id=f"s{c}{k}", title=f"Scene {c}.{k}", main_point="A turn.", words=w, chapter=f"c{c}"
        )
        for c, w in ((1, 20), (2, 25))
        for k in (1, 2)
    ]
    plan = Plan(chapters=chapters, sections=scenes)
    store = Store(db_path)
    project = store.create_project("Ferry", "Write a novella about a ferry.", plan.total_words)
    store.save_plan(project, plan)
    for row in scenes:
        version = store.start_section(project, row.id)
        store.save_section(version, f"The text of {row.title}.", 5, done=True)
    store.save_recap(project, "c1", "Ida boards the ferry.", edited=False)
    store.save_recap(project, "c2", "The fog comes in.", edited=False)
    store.close()
    server = StudioServer(db_path, folder / "studio.log")
    yield server
    server.stop()


def test_chapters_recaps_and_an_invalid_chapter_edit(novel, browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_project(page, novel.url, "Ferry")

    # the document: one group per chapter with text, only the last one open
    groups = page.locator("#document details.lw-chapter")
    groups.nth(1).locator("summary", has_text="Chapter 2 · Part 2").wait_for(timeout=20_000)
    assert groups.count() == 2
    assert not page.get_by_text("The text of Scene 1.1.").is_visible()
    groups.nth(0).locator("summary").click()
    page.get_by_text("The text of Scene 1.1.").wait_for()
    screenshot(page, "novel-document")

    # edit chapter 1's recap: a visible success message, saved as the writer's
    page.click("#recap-tools")
    page.locator("#recap-chapter input").click()
    page.get_by_role("option", name="1. Part 1", exact=True).click()
    replace_text(page, "recap-text", "Ida boards the ferry.", "Ida boards the ferry at night.")
    page.click("#save-recap")
    page.get_by_text("Recap of chapter 1 saved").first.wait_for(timeout=20_000)
    wait_until(page, lambda: recaps_of(novel.db_path)["c1"].edited)
    assert recaps_of(novel.db_path)["c1"].text == "Ida boards the ferry at night."
    recap = page.locator("#document .lw-recap", has_text="Ida boards the ferry at night.")
    recap.wait_for(state="attached")  # in chapter 1, closed again

    # the plan editor shows the chapters; a word count over the limit is a one-line error
    page.get_by_role("tab", name="Plan").click()
    page.locator("#chapters").get_by_text("Part 3", exact=True).wait_for(timeout=20_000)
    edit_chapter_cell(page, "50", "30000")
    error = page.get_by_text("Chapter 2: give a word count between 1 and 20,000.").first
    error.wait_for(timeout=20_000)
    assert "\n" not in error.inner_text()
