"""Several tabs on one studio write to one project: a write based on what a tab showed before
another tab changed it is refused with a visible message and changes nothing; a list answers
the row it showed; Start over asks first and can be undone.

Each test asserts the database: the project no tab pressed on is byte-identical before and
after, and the one pressed on got the change, or a visible refusal and no change.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from engine.store.database import Store
from tests.studio.conftest import error_labels, open_project, open_studio, replace_text
from tests.studio.test_studio_multitab import FakeStudio, _plan, rows_of

pytestmark = pytest.mark.slow

STALE = re.compile("changed in another tab or window: reload to see it")


@pytest.fixture(scope="module")
def tabs(tmp_path_factory, browser):
    """Keeper (planned, two sections written), Bystander (planned) and Sample; three pages."""
    folder = tmp_path_factory.mktemp("integrity")
    store = Store(folder / "projects.db")
    keeper = store.create_project("Keeper", "Write about a lighthouse keeper.", 300, "Maren: old.")
    store.save_plan(keeper, _plan("Night", "Bottle", "Dawn"))
    texts = ("Maren climbed.", "A bottle came.")
    for section_id, text in zip(store.plan(keeper).ids[:2], texts, strict=True):
        version = store.start_section(keeper, section_id)
        store.save_section(version, text, 3, done=True)
    bystander = store.create_project("Bystander", "Write about a bystander.", 200)
    store.save_plan(bystander, _plan("One", "Two"))
    store.create_project("Sample", "Write a sample.", 400)
    store.close()
    server = FakeStudio(folder / "projects.db", folder / "studio.log")
    pages = []
    for _ in range(3):
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        pages.append(context.new_page())
    yield server, pages
    for page in pages:
        page.context.close()
    server.stop()


def keeper(db_path):
    store = Store(db_path)
    try:
        project = store.project("Keeper")
        sections = {s.section_id: s for s in store.sections(project)}
        history = {
            section_id: [v.version_id for v in store.section_history(project, section_id)]
            for section_id in store.plan(project).ids
        }
        return project, store.plan(project), sections, history
    finally:
        store.close()


def blur(page) -> None:
    page.locator("#project-title").click()


def choose_section(page, number: int) -> None:
    page.locator("#section-select input").click()
    page.get_by_role("option", name=re.compile(f"^{number}\\. ")).click()


def refused(page, message: re.Pattern = STALE) -> None:
    """The refusal shows as a message, and no component is left labelled "Error"."""
    expect(page.get_by_text(message).first).to_be_visible(timeout=20_000)
    assert error_labels(page) == []


def edit_cell(page, old_text: str, new_text: str) -> None:
    """Double-click a plan cell, type, press Enter (how a writer edits the table)."""
    page.locator("#plan").get_by_text(old_text, exact=True).filter(visible=True).first.dblclick()
    editor = page.locator("#plan textarea[aria-label='Edit cell']").filter(visible=True).first
    editor.fill(new_text)
    editor.press("Enter")


def test_a_brief_edit_based_on_an_old_brief_is_refused(tabs):
    server, (tab_a, tab_b, _) = tabs
    bystander = rows_of(server.db_path, "Bystander")
    for tab in (tab_a, tab_b):
        open_project(tab, server.url, "Keeper")
        tab.get_by_role("tab", name="Brief").click()
    replace_text(tab_b, "bible", "Maren: old.", "Maren: old. Ben: her brother.")
    blur(tab_b)
    _wait(lambda: keeper(server.db_path)[0].bible == "Maren: old. Ben: her brother.")

    # tab A still shows the old brief: its edit would write over B's bible unseen
    replace_text(tab_a, "instruction", "Write about a lighthouse keeper.", "Write about a storm.")
    blur(tab_a)
    refused(tab_a)
    project = keeper(server.db_path)[0]
    assert project.instruction == "Write about a lighthouse keeper."
    assert project.bible == "Maren: old. Ben: her brother."

    # once A shows Keeper again, its edit is based on what it sees, and saved
    open_project(tab_a, server.url, "Keeper")
    tab_a.get_by_role("tab", name="Brief").click()
    replace_text(tab_a, "instruction", "Write about a lighthouse keeper.", "Write about a storm.")
    blur(tab_a)
    _wait(lambda: keeper(server.db_path)[0].instruction == "Write about a storm.")
    assert keeper(server.db_path)[0].bible == "Maren: old. Ben: her brother."
    assert rows_of(server.db_path, "Bystander") == bystander


def test_a_hand_edit_over_another_tabs_edit_is_refused_and_nothing_is_lost(tabs):
    server, (tab_a, tab_b, _) = tabs
    bystander = rows_of(server.db_path, "Bystander")
    _, plan, before, _ = keeper(server.db_path)
    first = plan.ids[0]
    for tab in (tab_a, tab_b):
        open_project(tab, server.url, "Keeper")
        tab.click("#section-tools")
        choose_section(tab, 1)
        expect(tab.locator("#section-text textarea")).to_have_value("Maren climbed.")
    tab_b.locator("#section-text textarea").fill("Maren climbed, slowly.")
    tab_b.click("#save-section")
    _wait(lambda: keeper(server.db_path)[2][first].text == "Maren climbed, slowly.")

    tab_a.locator("#section-text textarea").fill("Maren ran up the stairs.")
    tab_a.click("#save-section")
    refused(tab_a)
    _, _, sections, history = keeper(server.db_path)
    assert sections[first].text == "Maren climbed, slowly."
    assert before[first].version_id in history[first]  # every saved text stays in history
    assert rows_of(server.db_path, "Bystander") == bystander


def test_start_over_asks_first_and_undo_brings_every_text_back(tabs):
    server, (tab_a, _, _) = tabs
    bystander = rows_of(server.db_path, "Bystander")
    _, _, before, _ = keeper(server.db_path)
    open_project(tab_a, server.url, "Keeper")
    tab_a.click("#start-over")
    expect(tab_a.locator("#start-over-confirm").first).to_be_visible()
    tab_a.click("#start-over-no")
    expect(tab_a.locator("#start-over-confirm").first).to_be_hidden()
    assert keeper(server.db_path)[2] == before  # asking changed nothing

    tab_a.click("#start-over")
    tab_a.click("#start-over-yes")
    _wait(lambda: keeper(server.db_path)[2] == {})
    tab_a.click("#start-over-undo")
    _wait(lambda: keeper(server.db_path)[2] != {})
    after = keeper(server.db_path)[2]
    assert {k: s.text for k, s in after.items()} == {k: s.text for k, s in before.items()}
    assert rows_of(server.db_path, "Bystander") == bystander


def test_a_list_another_tab_changed_opens_the_project_clicked(tabs):
    server, (tab_a, tab_b, tab_c) = tabs
    sample = rows_of(server.db_path, "Sample")
    open_studio(tab_a, server.url)
    # tabs B and C add projects: the rows tab A shows are no longer where the server has them
    for tab, name in ((tab_b, "Blocker"), (tab_c, "Another")):
        open_studio(tab, server.url)
        tab.locator("#new-name textarea, #new-name input").first.fill(name)
        tab.click("#create-project")
        try:
            expect(tab.locator("#project-title")).to_contain_text(name, timeout=30_000)
        except AssertionError:
            tab.screenshot(path="/tmp/create_fail.png", full_page=True)
            print("TOASTS", tab.locator(".toast-body").all_inner_texts())
            print("NEWNAME", tab.locator("#new-name textarea, #new-name input").first.input_value())
            raise
    for name in ("Sample", "Keeper"):
        rows = tab_a.locator("#project-list").get_by_text(name, exact=True).filter(visible=True)
        rows.first.click()
        expect(tab_a.locator("#project-title")).to_contain_text(name, timeout=30_000)
    assert rows_of(server.db_path, "Sample") == sample


def test_a_plan_edit_based_on_an_old_plan_is_refused(tabs):
    server, (tab_a, tab_b, _) = tabs
    bystander = rows_of(server.db_path, "Bystander")
    for tab in (tab_a, tab_b):
        open_project(tab, server.url, "Keeper")
        tab.get_by_role("tab", name="Plan").click()
        expect(tab.locator("#plan").get_by_text("Dawn", exact=True).first).to_be_visible()
    edit_cell(tab_b, "Dawn", "Daybreak")
    _wait(lambda: keeper(server.db_path)[1].sections[2].title == "Daybreak")
    saved = keeper(server.db_path)[1]

    # tab A still shows the plan before B's edit: its edit would drop "Daybreak" unseen
    edit_cell(tab_a, "Night", "Midnight")
    refused(tab_a, re.compile("plan of 'Keeper' changed in another tab or window"))
    assert keeper(server.db_path)[1] == saved
    # the plan's versions in tab A list B's version without a reload (the page's refresh)
    tab_a.wait_for_timeout(6_000)
    tab_a.locator("#plan-versions input").click()
    newest = tab_a.get_by_role("option", name=re.compile(f"^v{len_versions(server.db_path)} "))
    expect(newest).to_be_visible(timeout=15_000)
    tab_a.keyboard.press("Escape")
    assert rows_of(server.db_path, "Bystander") == bystander


def test_accepting_a_rewrite_of_a_section_another_tab_changed_is_refused(tabs):
    server, (tab_a, tab_b, _) = tabs
    bystander = rows_of(server.db_path, "Bystander")
    _, plan, _, _ = keeper(server.db_path)
    second = plan.ids[1]
    for tab in (tab_a, tab_b):
        open_project(tab, server.url, "Keeper")
        tab.click("#section-tools")
        choose_section(tab, 2)
    tab_a.locator("#revise-instruction textarea").fill("Make it darker.")
    tab_a.click("#revise")
    expect(tab_a.locator("#revise-accept")).to_be_visible(timeout=60_000)
    expect(tab_a.locator("#stop")).not_to_have_class(re.compile(r"\bstop\b"), timeout=30_000)

    # B saves a hand edit of the section A's proposal was made from; A's history shows it
    text_b = tab_b.locator("#section-text textarea")
    text_b.fill(text_b.input_value() + " It rained.")
    tab_b.click("#save-section")
    _wait(lambda: keeper(server.db_path)[2][second].text.endswith("It rained."))
    versions = len(keeper(server.db_path)[3][second])
    history = tab_a.locator("#section-history")
    history.locator("input").click()
    expect(tab_a.get_by_role("option")).to_have_count(versions, timeout=15_000)
    tab_a.keyboard.press("Escape")

    tab_a.click("#revise-accept")
    refused(tab_a, re.compile("changed in another tab|put away and nothing was accepted"))
    _, _, sections, history_ids = keeper(server.db_path)
    assert sections[second].text.endswith("It rained.")
    assert len(history_ids[second]) == versions  # nothing accepted, nothing lost
    assert rows_of(server.db_path, "Bystander") == bystander


def test_stop_is_red_only_while_the_pages_job_runs_and_menus_follow_other_tabs(tabs):
    server, (tab_a, tab_b, _) = tabs
    open_project(tab_a, server.url, "Bystander")
    open_project(tab_b, server.url, "Bystander")
    stop = tab_a.locator("#stop")
    expect(stop).not_to_have_class(re.compile(r"\bstop\b"))
    tab_a.click("#write")
    expect(stop).to_have_class(re.compile(r"\bstop\b"), timeout=20_000)
    tab_a.wait_for_function(
        "/^Done/.test(document.querySelector('#progress').innerText)", timeout=120_000
    )
    expect(stop).not_to_have_class(re.compile(r"\bstop\b"), timeout=20_000)

    # B renames a section in the plan; A's section menu shows it without a reload
    tab_b.get_by_role("tab", name="Plan").click()
    edit_cell(tab_b, "Two", "Second")
    _wait(lambda: bystander_titles(server.db_path) == ["One", "Second"])
    tab_a.click("#section-tools")
    tab_a.wait_for_timeout(6_000)  # the page's refresh: every 5 s
    tab_a.locator("#section-select input").click()
    expect(tab_a.get_by_role("option", name="2. Second")).to_be_visible(timeout=15_000)
    tab_a.keyboard.press("Escape")
    assert error_labels(tab_a) == [] and error_labels(tab_b) == []


def test_typing_into_the_brief_while_create_answers_keeps_every_character(tabs, browser):
    server, _ = tabs
    typed = "Write a 400-word story about a tide that does not turn."
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    try:
        open_studio(page, server.url)
        page.locator("#new-name textarea, #new-name input").first.fill("Tides")
        network = context.new_cdp_session(page)
        slow = {"offline": False, "latency": 2500, "downloadThroughput": -1, "uploadThroughput": -1}
        network.send("Network.emulateNetworkConditions", slow)  # Create answers 2.5 s late
        page.click("#create-project")
        page.locator("#instruction textarea").click()
        page.keyboard.type(typed, delay=15)
        expect(page.locator("#project-title")).to_contain_text("Tides", timeout=30_000)
        network.send("Network.emulateNetworkConditions", {**slow, "latency": 0})
        page.wait_for_timeout(1_000)
        expect(page.locator("#instruction textarea")).to_have_value(typed)
        blur(page)
        _wait(lambda: project_named(server.db_path, "Tides").instruction == typed)
    finally:
        context.close()


def project_named(db_path, name: str):
    store = Store(db_path)
    try:
        return store.project(name)
    finally:
        store.close()


def bystander_titles(db_path) -> list[str]:
    store = Store(db_path)
    try:
        return [s.title for s in store.plan(store.project("Bystander")).sections]
    finally:
        store.close()


def len_versions(db_path) -> int:
    store = Store(db_path)
    try:
        return len(store.plan_versions(store.project("Keeper")))
    finally:
        store.close()


def _wait(check, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the database")
