"""A studio killed in the middle of a section resumes, in a new process, from the saved text."""

import sqlite3
import time

import pytest

from engine.schema import Plan, PlanSection
from engine.store.database import Store
from tests.studio.conftest import StudioServer, open_project

pytestmark = pytest.mark.slow

TIMEOUT_MS = 240_000


def wait_for_autosaved_words(db_path, name: str, words: int) -> None:
    """Poll the database until a section being written has `words` words autosaved."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        store = Store(db_path)
        try:
            sections = store.sections(store.project(name))
        except sqlite3.OperationalError:  # busy for a moment while the studio writes
            sections = []
        finally:
            store.close()
        if any(s.status == "writing" and len(s.text.split()) >= words for s in sections):
            return
        time.sleep(0.1)
    pytest.fail(f"no section of {name!r} had {words} words autosaved in time")


def test_resume_after_the_process_was_killed(browser, tmp_path):
    db_path = tmp_path / "projects.db"
    store = Store(db_path)
    project = store.create_project("Harbour", "Write a 300-word story about a harbour.", 300)
    rows = [
        PlanSection(title="Fog", main_point="Fog rolls into the harbour at dawn.", words=150),
        PlanSection(title="Boats", main_point="The boats come home through the fog.", words=150),
    ]
    store.save_plan(project, Plan(sections=rows))
    store.close()

    server = StudioServer(db_path, tmp_path / "first.log")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        open_project(page, server.url, "Harbour")
        page.click("#write")
        wait_for_autosaved_words(db_path, "Harbour", 8)
        server.process.kill()  # no clean shutdown: what was autosaved must be enough
        server.process.wait(timeout=20)
    finally:
        server.stop()
    store = Store(db_path)
    saved = store.sections(store.project("Harbour"))
    store.close()
    assert saved and saved[-1].status == "writing" and saved[-1].text.strip()

    server = StudioServer(db_path, tmp_path / "second.log")
    try:
        open_project(page, server.url, "Harbour")
        assert "stopped part-way" in page.locator("#active-heading").inner_text()
        page.click("#resume")
        page.wait_for_function(
            "/^Done/.test(document.querySelector('#progress').innerText)", timeout=TIMEOUT_MS
        )
    finally:
        server.stop()
        context.close()
    store = Store(db_path)
    sections = store.sections(store.project("Harbour"))
    store.close()
    assert [s.status for s in sections] == ["done", "done"]
    resumed = sections[saved[-1].idx]
    assert resumed.version_id == saved[-1].version_id  # the same version, continued
    assert resumed.text.startswith(saved[-1].text.strip()[:40])
