"""Several writers on one studio, in real Chromium and through Gradio's own API client: each
signs in on Gradio's login page and sees only their own projects, and a direct API call with
another writer's project is refused exactly like a call with a missing one."""

import time

import pytest
from gradio_client import Client
from playwright.sync_api import expect

from app.studio.accounts import hash_password
from engine.projects.manuscript_format import remember_author
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from tests.studio.conftest import StudioServer, open_studio

ANN_TEXT = "It rained on the hill all day, and the well filled up."
pytestmark = pytest.mark.slow

MISSING = "That project was deleted; pick another one from the list."


@pytest.fixture(scope="module")
def writers_studio(tmp_path_factory):
    """A studio with two writers: ann (a plain password; first, so she keeps the project made
    before sign-in) and bob (a hashed one)."""
    folder = tmp_path_factory.mktemp("writers")
    db_path = folder / "projects.db"
    store = Store(db_path)
    project = store.create_project("Ann's rain", "Write about rain.", 300)
    plan = Plan(sections=[PlanSection(title="Rain", main_point="It rains.", words=300)])
    store.save_plan(project, plan)
    version = store.start_section(project, store.plan(project).sections[0].id, ANN_TEXT)
    store.save_section(version, ANN_TEXT, 12, done=True)
    remember_author(store, "Ann Lee", "1 Hill Road", "ann")
    store.close()
    writers = folder / "writers.txt"
    writers.write_text(f"# who may sign in\nann:rain\nbob:{hash_password('snow')}\n", "utf-8")
    server = StudioServer(db_path, folder / "studio.log", "--auth-file", str(writers))
    yield server, project.id
    server.stop()


def _sign_in(browser, url: str, user: str, password: str):
    """A browser context of its own (its own cookies), signed in on Gradio's login page."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.locator("input[type=text]").first.fill(user)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()
    _studio_shown(page)  # the login page reloads itself into the studio
    return context, page


def _studio_shown(page) -> None:
    page.wait_for_function(
        "() => document.querySelector('#project-list')?.innerText.includes('Last edited')",
        timeout=60_000,
    )


def _listed(page) -> str:
    return page.locator("#project-list").inner_text()


def test_each_writer_sees_only_their_own_projects(writers_studio, browser):
    server, _ = writers_studio
    ann_context, ann = _sign_in(browser, server.url, "ann", "rain")
    bob_context, bob = _sign_in(browser, server.url, "bob", "snow")
    try:
        expect(ann.locator("#project-list")).to_contain_text("Ann's rain")
        assert "Ann's rain" not in _listed(bob)
        bob.locator("#new-name textarea").fill("Bob's snow")
        bob.click("#create-project")
        expect(bob.locator("#project-list")).to_contain_text("Bob's snow", timeout=20_000)
        ann.reload()
        open_studio(ann, server.url)
        expect(ann.locator("#project-list")).to_contain_text("Ann's rain")
        assert "Bob's snow" not in _listed(ann)
        bob.wait_for_timeout(6_000)  # past the list's own refresh (every 5 s)
        assert "Ann's rain" not in _listed(bob)
    finally:
        ann_context.close()
        bob_context.close()
    store = Store(server.db_path)
    owners = {p.name: store.project(p.name).owner for p in store.list_projects()}
    store.close()
    assert owners == {"Ann's rain": "ann", "Bob's snow": "bob"}


def _event(client: Client, elem_id: str, trigger: str, then: bool = False) -> int:
    """The fn_index of the event `trigger` of the element `elem_id` (with `then`, of the step
    chained after it): the studio's events are found by their elements, not by names."""
    config = client.config
    element = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == elem_id)
    pressed = next(d["id"] for d in config["dependencies"] if [element, trigger] in d["targets"])
    if not then:
        return pressed
    return next(d["id"] for d in config["dependencies"] if d.get("trigger_after") == pressed)


def _ids(client: Client, *elem_ids: str) -> list[int]:
    components = client.config["components"]
    return [next(c["id"] for c in components if c["props"].get("elem_id") == e) for e in elem_ids]


def _refused(server, call) -> str:
    """The call is answered with a refusal, one line the writer would see (and the studio's
    log keeps, in English), and no error: the message of that refusal."""

    def refusals() -> list[str]:
        log = server.log_path.read_text(encoding="utf-8", errors="replace")
        return [line.split("): ", 1)[1] for line in log.splitlines() if "refused (" in line]

    before = len(refusals())
    call()
    deadline = time.monotonic() + 10
    while len(refusals()) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(refusals()) == before + 1
    return refusals()[-1]


def test_an_api_call_with_another_writers_project_is_refused(writers_studio):
    server, ann_project = writers_studio
    with pytest.raises(ValueError):
        Client(server.url, auth=("bob", "rain"), verbose=False, download_files=False)
    bob = Client(server.url, auth=("bob", "snow"), verbose=False, download_files=False)
    config = bob.config
    # open: the page's load reopens the project the browser remembers; Ann's does not open
    reopen = next(
        d["id"]
        for d in config["dependencies"]
        if [event for _, event in d["targets"]] == ["load"]
        and any(
            c["id"] in d["inputs"] and c["type"] == "browserstate" for c in config["components"]
        )
    )
    shown = bob.predict(ann_project, fn_index=reopen)
    assert not any("Ann's rain" in str(value) for value in shown)
    # the manuscript's author fields, filled on load, are Bob's own (none yet), not Ann's
    author = next(
        d["id"]
        for d in config["dependencies"]
        if [event for _, event in d["targets"]] == ["load"]
        and d["outputs"] == _ids(bob, "author-name", "author-contact")
    )
    assert tuple(bob.predict(fn_index=author)) == ("", "")
    ann = Client(server.url, auth=("ann", "rain"), verbose=False, download_files=False)
    assert tuple(ann.predict(fn_index=author)) == ("Ann Lee", "1 Hill Road")
    # delete and export apply to the session's open project: none is open for Bob
    assert "Open a project" in _refused(
        server, lambda: bob.predict(fn_index=_event(bob, "delete-confirm", "click"))
    )
    export = _event(bob, "export-md", "click", then=True)
    assert "Open a project" in _refused(server, lambda: bob.predict(fn_index=export))
    # a rewrite names its project itself: Ann's is refused as a missing one is
    rewrite = _event(bob, "revise", "click", then=True)
    for project_id in (ann_project, ann_project + 1000):
        pressed = f'{{"project_id": {project_id}}}'
        assert (
            _refused(
                server,
                lambda p=pressed: bob.predict(p, None, "Shorter.", "", "", fn_index=rewrite),
            )
            == MISSING
        )
    store = Store(server.db_path)
    project = store.project_by_id(ann_project)
    assert (project.name, project.owner) == ("Ann's rain", "ann")
    assert [s.text for s in store.sections(project)] == [ANN_TEXT]
    assert len(store.section_history(project, store.plan(project).sections[0].id)) == 1
    store.close()
