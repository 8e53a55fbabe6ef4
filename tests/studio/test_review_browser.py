"""The Review tab in Chromium: a seeded book (written by the scripted fake backend, defects
planted at known places) is reviewed in the page; findings show chapter by chapter, a click
marks the passage, Dismiss hides it for good, Check later chapters follows a bible rename, and
Fix this rewrites the passage on the embedded model and shows the difference."""

import pytest

from bench.review import seed_defects, written_book
from engine.review.findings import stored_findings
from engine.store.database import Store
from tests.studio.conftest import StudioServer, open_project, screenshot

pytestmark = pytest.mark.slow

MODEL_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    store = Store(folder / "projects.db")
    project, scenes = written_book(store, 6_000, seed=7)  # 3 chapters
    planted = seed_defects(store, project, scenes, copies=1, seed=7)
    store.close()
    server = StudioServer(folder / "projects.db", folder / "studio.log")
    yield server, planted
    server.stop()


def _findings(db_path, dismissed=False):
    store = Store(db_path)
    try:
        return stored_findings(store, store.project("Seeded"), dismissed)
    finally:
        store.close()


ROWS = """() => {
  const rows = {};
  for (const cell of document.querySelectorAll('#review-findings [data-testid^="cell-"]')) {
    const [, row, column] = cell.dataset.testid.split('-');
    (rows[row] ??= [])[Number(column)] = cell.innerText.trim();
  }
  return Object.keys(rows).sort((a, b) => a - b).map((row) => rows[row]);
}"""


def _rows(page) -> list[list[str]]:
    """The findings table as the page shows it (its cells are named cell-ROW-COLUMN)."""
    return page.evaluate(ROWS)


def _cell(page, text: str):
    return page.locator('#review-findings [data-testid^="cell-"]').filter(has_text=text).first


def test_review_click_dismiss_and_check_later_in_the_page(seeded, browser):
    server, planted = seeded
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    open_project(page, server.url, "Seeded")
    page.get_by_role("tab", name="Review").click()
    page.click("#review-run")
    page.wait_for_function(
        "/open finding/.test(document.querySelector('#review-progress').innerText)",
        timeout=60_000,
    )
    stored = _findings(server.db_path)
    assert {(f.section_id, f.kind) for f in stored} == planted
    rows = _rows(page)
    assert len(rows) == len(planted)
    chapters = [row[0] for row in rows]
    assert chapters == sorted(chapters, key=lambda c: int(c.split()[-1]))  # grouped, in order
    assert len(set(chapters)) > 1
    screenshot(page, "review")

    name = next(f for f in stored if f.kind == "name")
    _cell(page, "Maele").click()
    mark = page.locator("#review-passage mark")
    mark.wait_for(timeout=20_000)
    assert mark.inner_text() == name.quote
    page.click("#review-dismiss")
    page.wait_for_function(f"n => ({ROWS})().length === n", arg=len(planted) - 1, timeout=20_000)
    assert [f.kind for f in _findings(server.db_path, True) if f.state == "dismissed"] == ["name"]

    # the bible renames Tobias; the later chapters that still say "Tobias" are flagged
    store = Store(server.db_path)
    project = store.project("Seeded")
    store.update_project(project, bible=project.bible.replace("Tobias Wren", "Tomas Wren"))
    store.close()
    page.click("#review-later")
    page.wait_for_function(
        "/Tobias/.test(document.querySelector('#review-progress').innerText)", timeout=60_000
    )
    assert any(row[3] == "after a change" for row in _rows(page))


def test_fix_this_rewrites_the_passage_and_shows_the_diff(seeded, browser):
    server, _ = seeded
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    open_project(page, server.url, "Seeded")
    page.get_by_role("tab", name="Review").click()
    page.click("#review-run")
    # the review's last answer lays the table out anew, dropping a finding clicked before it
    page.wait_for_function(
        "/open finding/.test(document.querySelector('#review-progress').innerText)",
        timeout=60_000,
    )
    _cell(page, "length").click()
    page.locator("#review-passage mark").wait_for(timeout=20_000)
    page.click("#review-fix")
    page.locator("#revise-diff ins").first.wait_for(timeout=MODEL_TIMEOUT_MS)
    assert page.locator("#revise-instruction textarea").input_value().startswith("Fix this: ")
    assert page.locator("#write-tab").is_visible()
    screenshot(page, "review-fix")
