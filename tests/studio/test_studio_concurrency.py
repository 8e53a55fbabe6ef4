"""Four browser sessions write four projects at once, each in its own context.

On the embedded model (llama.cpp in the studio's process) the generations queue behind each
other, one at a time, and a waiting page sees its place move up; on a model server they run
together, as many as the server has slots. Either way every project must finish, each page must
show its own project's text, and no text may land in another project's rows of the database.
How many ran at once is measured from the studio's log (each generation's start and end) and,
on the server, by the server's own count of requests in flight.
"""

import re
from pathlib import Path

import pytest

from engine.metrics import words_of
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from harness.fake_openai import FakeOpenAI
from tests.studio.conftest import StudioServer, open_project, screenshot

pytestmark = pytest.mark.slow

WRITE_TIMEOUT_MS = 110_000
HOLD_S = 3.0  # the fake server answers each request after this long: the four overlap
BRIEFS = {
    "Fox": ("Write a 50-word fable about Ruskin, a red fox in the snow.", "Ruskin: a red fox."),
    "Ship": ("Write a 50-word sea tale about the ship Albatross in a storm.", "Albatross: a brig."),
    "Bakery": ("Write a 50-word story about Odile, a baker in Lyon, at dawn.", "Odile: a baker."),
    "Robot": ("Write a 50-word tale about Unit Nine, a robot gardener.", "Unit Nine: a robot."),
}
GATE_LINE = re.compile(r"a generation (starts|ends): (\d+) at once")


def _four_projects(folder: Path) -> Path:
    """A database holding four planned projects, one section of 50 words each."""
    store = Store(folder / "projects.db")
    for name, (instruction, bible) in BRIEFS.items():
        project = store.create_project(name, instruction, 50, bible)
        store.save_plan(
            project,
            Plan(sections=[PlanSection(title=name, main_point=instruction, words=50)]),
        )
    store.close()
    return folder / "projects.db"


@pytest.fixture
def embedded_studio(tmp_path):
    server = StudioServer(_four_projects(tmp_path), tmp_path / "studio.log")
    yield server
    server.stop()


@pytest.fixture
def served_studio(tmp_path):
    with FakeOpenAI("llamacpp", slots=4, hold_s=HOLD_S) as model_server:
        extra = ("--base-url", model_server.url, "--model-name", model_server.model_id)
        server = StudioServer(_four_projects(tmp_path), tmp_path / "studio.log", *extra)
        yield server, model_server
        server.stop()


def _pages(browser, url: str) -> dict:
    pages = {}
    for name in BRIEFS:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        open_project(page, url, name)
        pages[name] = page
    return pages


def _wait_done(pages: dict) -> None:
    for page in pages.values():
        page.wait_for_function(
            "/^Done/.test(document.querySelector('#progress').innerText)",
            timeout=WRITE_TIMEOUT_MS,
        )


def most_at_once(log_path: Path) -> tuple[int, int]:
    """From the studio's log: how many generations started, and the most that ran together
    (counted from the order of their starts and ends)."""
    running = most = started = 0
    for kind, _ in GATE_LINE.findall(log_path.read_text(encoding="utf-8")):
        running += 1 if kind == "starts" else -1
        started += kind == "starts"
        most = max(most, running)
    return started, most


def _each_project_has_its_own_text(db_path: Path, pages: dict) -> None:
    store = Store(db_path)
    texts = {}
    for name in BRIEFS:
        project = store.project(name)
        sections = store.sections(project)
        assert project.status == "done"
        assert [s.status for s in sections] == ["done"]
        texts[name] = sections[0].text
        first_id = store.plan(project).ids[0]
        assert len(store.section_history(project, first_id)) == 1  # written once, by its run
        runs = list(store.db["runs"].rows_where("project_id = ?", [project.id]))
        assert [run["status"] for run in runs] == ["done"]
    store.close()
    assert len(set(texts.values())) == len(texts)
    for name, page in pages.items():  # each page shows its own text and no other
        shown = " ".join(words_of(page.locator("#document").inner_text()))
        for other, text in texts.items():
            opening = " ".join(words_of(text)[:30])
            assert (opening in shown) == (other == name)
    for page in pages.values():
        page.context.close()


def test_on_the_embedded_model_four_sessions_write_one_at_a_time(embedded_studio, browser):
    pages = _pages(browser, embedded_studio.url)
    for page in pages.values():
        page.click("#write")
    last = pages["Robot"]
    shows = "line => new RegExp(line).test(document.querySelector('#progress').innerText)"
    last.wait_for_function(shows, arg="Writing Robot: number 4 in the queue", timeout=60_000)
    screenshot(last, "queued")
    # the waiting page keeps seeing its place as the runs ahead of it end
    moved_up = "Writing Robot: number [123] in the queue"
    last.wait_for_function(shows, arg=moved_up, timeout=WRITE_TIMEOUT_MS)
    _wait_done(pages)
    assert most_at_once(embedded_studio.log_path) == (4, 1)
    _each_project_has_its_own_text(embedded_studio.db_path, pages)


def test_on_a_model_server_four_sessions_write_at_once(served_studio, browser):
    studio, model_server = served_studio
    pages = _pages(browser, studio.url)
    for page in pages.values():
        page.click("#write")
    _wait_done(pages)
    assert model_server.max_in_flight == 4  # the server's own count: all four together
    assert most_at_once(studio.log_path) == (4, 4)
    _each_project_has_its_own_text(studio.db_path, pages)
