"""Two tabs on one studio: an action applies to the project it was pressed on, whenever its turn
in the queue comes, and Stop stops only the job of the page it was pressed in.

The studio runs the scripted fake model at a writer's pace (harness/fake_studio.py), so a
write in one tab holds the model long enough for the other tab's press to wait in the queue.
"""

import sqlite3
import sys
import time

import pytest
from playwright.sync_api import expect

from engine.schema import Plan, PlanSection
from engine.store.database import Store
from tests.studio.conftest import StudioServer, open_project, open_studio, replace_text

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 240
TIDES = "Write a 600-word story about a tide that does not turn."


class FakeStudio(StudioServer):
    """The studio on the paced fake model: about six seconds a section of 120 words."""

    def command(self, db_path, extra) -> list[str]:
        return [
            sys.executable,
            "-m",
            "harness.fake_studio",
            "--db",
            str(db_path),
            "--port",
            str(self.port),
            "--rate",
            "20",
            *extra,
        ]


SECTION_TITLES = tuple(f"Part {n}" for n in range(1, 25))


def _plan(*titles: str) -> Plan:
    return Plan(
        sections=[PlanSection(title=t, main_point=f"{t} happens.", words=100) for t in titles]
    )


@pytest.fixture(scope="module")
def two_tabs(tmp_path_factory, browser):
    """A studio whose database holds Keeper (planned, one section written, a bible) and three
    planned pieces to write; and two pages on it, A and B."""
    folder = tmp_path_factory.mktemp("tabs")
    store = Store(folder / "projects.db")
    keeper = store.create_project("Keeper", "Write about a lighthouse keeper.", 300, "Maren: old.")
    store.save_plan(keeper, _plan("Night", "Bottle", "Dawn"))
    version = store.start_section(keeper, store.plan(keeper).ids[0])
    store.save_section(version, "Maren climbed the stairs.", 5, done=True)
    # Piece holds the model for half a minute and Long (stopped early) for two: long enough
    # for the other tab's press and Stop to arrive while they write, on a loaded machine too
    for name, sections in (("Piece", 6), ("Long", 24), ("Harbor", 2)):
        project = store.create_project(name, f"Write about the {name.lower()}.", 100 * sections)
        store.save_plan(project, _plan(*SECTION_TITLES[:sections]))
    store.close()
    server = FakeStudio(folder / "projects.db", folder / "studio.log")
    pages = {}
    for name in ("A", "B"):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pages[name] = context.new_page()
    yield server, pages["A"], pages["B"]
    for page in pages.values():
        page.context.close()
    server.stop()
    assert "Traceback" not in (folder / "studio.log").read_text()


def rows_of(db_path, name: str) -> dict[str, list]:
    """Every row of the project, table by table: its own row and every row naming it."""
    with sqlite3.connect(db_path) as db:
        (project_id,) = db.execute("select id from projects where name = ?", [name]).fetchone()
        tables = [row[0] for row in db.execute("select name from sqlite_master where type='table'")]
        rows = {
            "projects": db.execute("select * from projects where id = ?", [project_id]).fetchall()
        }
        for table in tables:
            columns = [row[1] for row in db.execute(f"pragma table_info({table})")]
            if "project_id" in columns:
                rows[table] = db.execute(
                    f"select * from {table} where project_id = ? order by rowid", [project_id]
                ).fetchall()
    return rows


def wait_for(check, timeout_s: float = RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (value := check()) is not None:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


def project_in(db_path, name: str):
    store = Store(db_path)
    try:
        project = store.project(name)
        return project, store.plan(project), store.sections(project)
    finally:
        store.close()


def write_in(page, url: str, name: str) -> None:
    """Open `name` and press Write; return once its run holds the model."""
    open_project(page, url, name)
    page.click("#write")
    page.wait_for_function(
        "/Section 1|Waiting/.test(document.querySelector('#progress').innerText)", timeout=60_000
    )


def test_a_queued_draft_applies_to_the_project_it_was_pressed_on(two_tabs):
    server, tab_a, tab_b = two_tabs
    keeper_before = rows_of(server.db_path, "Keeper")
    write_in(tab_b, server.url, "Piece")  # holds the model

    open_studio(tab_a, server.url)
    tab_a.locator("#new-name textarea, #new-name input").first.fill("Tides")
    tab_a.click("#create-project")
    expect(tab_a.locator("#project-title")).to_contain_text("Tides", timeout=30_000)
    replace_text(tab_a, "instruction", "", TIDES)
    tab_a.get_by_role("tab", name="Plan").click()
    tab_a.click("#draft-plan")
    # the page names the queued job's project, and where it stands
    expect(tab_a.locator("#plan-stream textarea")).to_have_value(
        "Drafting Tides's plan: number 2 in the queue.", timeout=30_000
    )

    # while the draft waits, the writer looks at Keeper
    tab_a.locator("#project-list").get_by_text("Keeper", exact=True).filter(visible=True).click()
    expect(tab_a.locator("#project-title")).to_contain_text("Keeper", timeout=30_000)

    wait_for(lambda: project_in(server.db_path, "Tides")[1])
    tides, plan, _ = project_in(server.db_path, "Tides")
    assert tides.instruction == TIDES
    assert [row.title for row in plan.sections][:2] == ["Arrival", "Storm"]  # the fake's plan
    tab_b.wait_for_function(
        "/^Done/.test(document.querySelector('#progress').innerText)",
        timeout=RUN_TIMEOUT_S * 1000,
    )
    assert rows_of(server.db_path, "Keeper") == keeper_before
    # page A still shows Keeper's plan, and says where the draft went
    expect(tab_a.locator("#plan")).to_contain_text("Bottle")
    expect(tab_a.locator("#plan")).not_to_contain_text("Arrival")
    expect(tab_a.locator("#plan-stream textarea")).to_have_value(
        "The job for Tides ended while another project was open: open Tides to see it."
    )


def test_stop_in_one_tab_leaves_another_tabs_queued_job_alone(two_tabs):
    server, tab_a, tab_b = two_tabs
    write_in(tab_b, server.url, "Long")  # holds the model
    open_project(tab_a, server.url, "Harbor")
    tab_a.click("#write")
    expect(tab_a.locator("#progress")).to_contain_text("Writing Harbor: number 2", timeout=30_000)

    # B looks at Harbor too, and presses Stop there: it stops B's own job (Long), not A's
    tab_b.locator("#project-list").get_by_text("Harbor", exact=True).filter(visible=True).click()
    expect(tab_b.locator("#project-title")).to_contain_text("Harbor", timeout=30_000)
    tab_b.click("#stop")

    tab_a.wait_for_function(
        "/^Done/.test(document.querySelector('#progress').innerText)",
        timeout=RUN_TIMEOUT_S * 1000,
    )
    harbor, _, sections = project_in(server.db_path, "Harbor")
    assert harbor.status == "done" and [s.status for s in sections] == ["done", "done"]
    long, _, sections = project_in(server.db_path, "Long")
    assert long.status != "done"
    assert not all(s.status == "done" for s in sections)
