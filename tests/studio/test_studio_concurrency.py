"""Four browser sessions write four projects at once on one model instance.

The generations queue behind each other (one model, one generation at a time); every project
must finish, each page must show its own project's text, and no text may land in another
project's rows of the database.
"""

import pytest

from engine.metrics import words_of
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from tests.studio.conftest import StudioServer, open_project, screenshot

pytestmark = pytest.mark.slow

WRITE_TIMEOUT_MS = 300_000
BRIEFS = {
    "Fox": ("Write a 50-word fable about Ruskin, a red fox in the snow.", "Ruskin: a red fox."),
    "Ship": ("Write a 50-word sea tale about the ship Albatross in a storm.", "Albatross: a brig."),
    "Bakery": ("Write a 50-word story about Odile, a baker in Lyon, at dawn.", "Odile: a baker."),
    "Robot": ("Write a 50-word tale about Unit Nine, a robot gardener.", "Unit Nine: a robot."),
}


@pytest.fixture(scope="module")
def four_projects(tmp_path_factory):
    """A studio whose database holds four planned projects, one section of 60 words each."""
    folder = tmp_path_factory.mktemp("four")
    store = Store(folder / "projects.db")
    for name, (instruction, bible) in BRIEFS.items():
        project = store.create_project(name, instruction, 50, bible)
        store.save_plan(
            project,
            Plan(sections=[PlanSection(title=name, main_point=instruction, words=50)]),
        )
    store.close()
    server = StudioServer(folder / "projects.db", folder / "studio.log")
    yield server
    server.stop()


def test_four_sessions_write_four_projects_at_once(four_projects, browser):
    pages = {}
    for name in BRIEFS:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        open_project(page, four_projects.url, name)
        pages[name] = page
    for page in pages.values():
        page.click("#write")
    last = list(pages.values())[-1]
    last.wait_for_function(
        "/queue/i.test(document.querySelector('#progress').innerText)", timeout=60_000
    )
    screenshot(last, "queued")
    for page in pages.values():
        page.wait_for_function(
            "/^Done/.test(document.querySelector('#progress').innerText)",
            timeout=WRITE_TIMEOUT_MS,
        )

    store = Store(four_projects.db_path)
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
    assert len(set(texts.values())) == len(texts)
    for name, page in pages.items():  # each page shows its own text and no other
        shown = " ".join(words_of(page.locator("#document").inner_text()))
        for other, text in texts.items():
            opening = " ".join(words_of(text)[:30])
            assert (opening in shown) == (other == name)
    store.close()
    for page in pages.values():
        page.context.close()
