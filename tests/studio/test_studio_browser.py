"""The studio end to end in Chromium: the embedded model drafts and writes, everything persists.

One long scenario on one studio (model loads are the expensive part): create a project, draft
a plan (and the book's title with it), edit it, write, stop, resume, regenerate a section, edit
one by hand with markup that must not run, export every format (under the book's title), reload
and find the project intact.
"""

import inspect
import re
import zipfile

import docx
import pytest
from ebooklib import epub

from engine.store.database import Store
from tests.studio.conftest import open_studio, replace_text, screenshot

pytestmark = pytest.mark.slow

MODEL_TIMEOUT_MS = 240_000
INSTRUCTION = (
    "Write a 150-word story about Maren, a lighthouse keeper on Skerry Point, "
    "who finds a message in a bottle."
)
BIBLE = "Maren: sixty, stubborn, keeps a logbook. Skerry Point: a rock with one lighthouse."
HOSTILE = 'A calm night. <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def visible(page, selector: str, text: str):
    return page.locator(selector).get_by_text(text, exact=True).filter(visible=True).first


def edit_cell(page, old_text: str, new_text: str) -> None:
    """Double-click a plan cell, type, press Enter (how a writer edits the table)."""
    visible(page, "#plan", old_text).dblclick()
    editor = page.locator("#plan textarea[aria-label='Edit cell']").filter(visible=True).first
    editor.fill(new_text)
    editor.press("Enter")


def plan_of(db_path, name: str):
    store = Store(db_path)
    try:
        return store.plan(store.project(name))
    finally:
        store.close()


def title_of(db_path, name: str) -> str:
    """The book's own title ("" until drafted or typed)."""
    store = Store(db_path)
    try:
        return store.project(name).title
    finally:
        store.close()


def sections_of(db_path, name: str):
    store = Store(db_path)
    try:
        project = store.project(name)
        ids = store.plan(project).ids[:2]
        return (
            store.sections(project),
            [len(store.section_history(project, section_id)) for section_id in ids],
            project.status,
        )
    finally:
        store.close()


def wait_text(page, selector: str, pattern: str, timeout: int = MODEL_TIMEOUT_MS) -> None:
    page.wait_for_function(
        "([sel, pat]) => { const e = document.querySelector(sel);"
        " return e && new RegExp(pat).test(e.innerText); }",
        arg=[selector, pattern],
        timeout=timeout,
    )


def wait_finished(page) -> None:
    """Wait for the generation just clicked to end (the progress box first leaves 'Done')."""
    wait_text(page, "#progress", "^(?!Done)", 20_000)
    wait_text(page, "#progress", "^Done")


def wait_until(page, predicate, timeout_s: float = 30) -> None:
    for _ in range(int(timeout_s * 10)):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"not true after {timeout_s} s: {inspect.getsource(predicate).strip()}")


def wait_rows(page, studio, count: int, new_rows: int) -> None:
    """Until the plan has `count` rows saved and the table shows `new_rows` added ones: a
    button pressed again while its last event is still on its way is ignored by Gradio, so the
    next press waits for the table."""
    wait_until(page, lambda: len(plan_of(studio.db_path, "Lighthouse").sections) == count)
    page.wait_for_function(
        "n => document.querySelector('#plan').innerText.split('New section').length - 1 === n",
        arg=new_rows,
        timeout=30_000,
    )


def test_draft_edit_write_stop_resume_regenerate_export_reload(studio, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    open_studio(page, studio.url)

    # a project, its brief; the instruction's length fills Total words
    replace_text(page, "new-name", "", "Lighthouse")
    page.click("#create-project")
    wait_text(page, "#project-title", "Lighthouse", 60_000)
    page.locator("#instruction textarea").fill(INSTRUCTION)
    page.locator("#bible textarea").click()
    page.locator("#bible textarea").fill(BIBLE)
    page.locator("#instruction textarea").click()
    page.wait_for_function(
        "document.querySelector('#total-words input').value === '150'", timeout=60_000
    )
    screenshot(page, "brief")

    # draft on the embedded model
    page.get_by_role("tab", name="Plan").click()
    page.click("#draft-plan")
    page.wait_for_function(
        "document.querySelectorAll('#plan tbody tr').length > 0", timeout=MODEL_TIMEOUT_MS
    )
    wait_until(page, lambda: plan_of(studio.db_path, "Lighthouse") is not None)
    drafted = plan_of(studio.db_path, "Lighthouse")
    assert drafted.total_words == 150
    # the book's title is drafted with the plan, and the Brief's title box shows it
    wait_until(page, lambda: title_of(studio.db_path, "Lighthouse") != "")
    title = title_of(studio.db_path, "Lighthouse")
    page.wait_for_function(
        "t => document.querySelector('#book-title textarea').value === t", arg=title
    )

    # edit row 1's title and word count in place
    edit_cell(page, drafted.sections[0].title, "Maren finds the bottle")
    wait_until(
        page,
        lambda: plan_of(studio.db_path, "Lighthouse").sections[0].title == "Maren finds the bottle",
    )
    edit_cell(page, str(drafted.sections[0].words), "90")
    wait_until(page, lambda: plan_of(studio.db_path, "Lighthouse").sections[0].words == 90)

    # add two rows below row 1, delete one of them again
    rows_before = len(drafted.sections)
    page.locator("#row-number input").fill("1")
    page.click("#add-row")
    wait_rows(page, studio, rows_before + 1, 1)
    page.click("#add-row")
    wait_rows(page, studio, rows_before + 2, 2)
    page.locator("#row-number input").fill("2")
    page.click("#delete-row")
    wait_rows(page, studio, rows_before + 1, 1)
    plan = plan_of(studio.db_path, "Lighthouse")
    assert plan.sections[0].title == "Maren finds the bottle"
    assert plan.sections[1].title == "New section"
    edit_cell(page, "What happens in this section.", "Maren reads the message aloud at dawn.")
    wait_until(
        page,
        lambda: (
            plan_of(studio.db_path, "Lighthouse").sections[1].main_point.startswith("Maren reads")
        ),
    )
    # keep the piece short: rescale everything to the 150-word target
    page.click("#rescale")
    wait_until(page, lambda: plan_of(studio.db_path, "Lighthouse").total_words == 150)
    wait_text(page, "#plan-total", r"150", 10_000)
    screenshot(page, "plan")
    plan = plan_of(studio.db_path, "Lighthouse")

    # write, stop while the first section streams
    page.get_by_role("tab", name="Write").click()
    page.click("#write")
    page.wait_for_function(
        "(document.querySelector('#active-section').innerText.split(/\\s+/).length > 6)",
        timeout=MODEL_TIMEOUT_MS,
    )
    page.click("#stop")
    wait_text(page, "#progress", "Stopped")
    sections, _, status = sections_of(studio.db_path, "Lighthouse")
    assert status == "stopped"
    assert sections and sections[-1].status == "writing" and sections[-1].text.strip()
    screenshot(page, "stopped")

    # resume to the end
    page.click("#resume")
    wait_finished(page)
    sections, _, status = sections_of(studio.db_path, "Lighthouse")
    assert status == "done"
    assert [s.status for s in sections] == ["done"] * len(plan.sections)
    assert all(s.text.strip() for s in sections)
    document = page.locator("#document").inner_text()
    assert sections[-1].text.split()[-1] in document
    screenshot(page, "written")

    # regenerate section 1: a new current version, the old one stays in its history
    old_first = sections[0]
    page.click("#section-tools")
    page.locator("#section-select input").click()
    page.get_by_role("option", name=re.compile("^1\\. ")).click()
    page.click("#regenerate")
    wait_until(
        page,
        lambda: sections_of(studio.db_path, "Lighthouse")[0][0].version_id != old_first.version_id,
        MODEL_TIMEOUT_MS / 1000,
    )
    wait_finished(page)
    sections, histories, _ = sections_of(studio.db_path, "Lighthouse")
    assert sections[0].status == "done" and sections[0].text.strip()
    assert histories[0] >= 2

    # an edit by hand whose markup must not run in the page or survive into the HTML export
    page.locator("#section-select input").click()
    page.get_by_role("option", name=re.compile("^2\\. ")).click()
    second = sections_of(studio.db_path, "Lighthouse")[0][1].text
    wait_until(page, lambda: page.locator("#section-text textarea").input_value() == second)
    page.locator("#section-text textarea").fill(HOSTILE)
    page.click("#save-section")
    wait_until(page, lambda: sections_of(studio.db_path, "Lighthouse")[0][1].text == HOSTILE)
    wait_text(page, "#document", "A calm night", 20_000)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#document script, #document img[onerror]").count() == 0

    # section 1's history: bring back the version written before the regeneration
    page.locator("#section-select input").click()
    page.get_by_role("option", name=re.compile("^1\\. ")).click()
    page.locator("#section-history input").click()
    page.get_by_role("option", name=re.compile(f"^#{old_first.version_id} ")).click()
    page.click("#restore-section")
    # a restore is a new version (of kind "restore") with the old text; the history keeps both
    wait_until(page, lambda: sections_of(studio.db_path, "Lighthouse")[0][0].kind == "restore")
    assert sections_of(studio.db_path, "Lighthouse")[0][0].text == old_first.text
    wait_until(page, lambda: page.locator("#section-text textarea").input_value() == old_first.text)

    # length view and score
    page.get_by_role("tab", name="Length").click()
    page.click("#score")
    wait_text(page, "#length-summary", "length score", 20_000)
    wait_text(page, "#quality", "not connected", 20_000)  # it shows a timer until the reply
    screenshot(page, "length")

    # every export format is built when asked for, downloads and opens
    page.get_by_role("tab", name="Write").click()
    files = {}
    for fmt in ("md", "html", "docx", "epub"):
        with page.expect_download(timeout=30_000) as download:
            page.click(f"#export-{fmt}")
        files[fmt] = tmp_path / f"out.{fmt}"
        download.value.save_as(files[fmt])
    markdown = files["md"].read_text(encoding="utf-8")
    assert markdown.startswith(f"# {title}\n") and "## Maren finds the bottle" in markdown
    html = files["html"].read_text(encoding="utf-8").lower()
    assert "a calm night" in html and "<script" not in html and "onerror" not in html
    paragraphs = [p.text for p in docx.Document(str(files["docx"])).paragraphs]
    assert title in paragraphs and "Maren finds the bottle" in paragraphs
    assert zipfile.is_zipfile(files["epub"])
    book = epub.read_epub(str(files["epub"]))
    chapters = [
        item.get_content().decode()
        for item in book.get_items()
        if item.file_name.startswith("section_")
    ]
    assert len(chapters) == len(plan.sections)
    assert all("<script" not in chapter for chapter in chapters)

    # reload: the same project comes back with its brief, plan and text
    page.reload()
    wait_text(page, "#project-title", "Lighthouse", 30_000)
    assert page.locator("#instruction textarea").input_value() == INSTRUCTION
    assert page.locator("#bible textarea").input_value() == BIBLE
    assert visible(page, "#project-list", "Lighthouse").is_visible()
    page.get_by_role("tab", name="Write").click()
    assert "A calm night" in page.locator("#document").inner_text()
    page.get_by_role("tab", name="Plan").click()
    assert visible(page, "#plan", "Maren finds the bottle").is_visible()
    screenshot(page, "reloaded")
    context.close()


def test_project_management_and_user_errors_are_one_line(studio, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    open_studio(page, studio.url)

    # a user error shows one line, no traceback
    page.get_by_role("tab", name="Write").click()
    page.click("#write")
    page.get_by_text("Open a project from the list, or create one, first.").first.wait_for()

    # a file that is not a GGUF is refused with a clear message
    fake = tmp_path / "notes.gguf"
    fake.write_text("these are notes, not weights")
    page.click("#model-panel")
    page.locator("#model-select input").click()
    page.get_by_role("option", name="A GGUF file path…").click()
    page.locator("#model-path textarea").fill(str(fake))
    page.click("#use-model")
    page.get_by_text("is not a GGUF model file").first.wait_for()
    assert "Traceback" not in page.content()

    # create, duplicate, rename, delete with confirmation
    page.locator("#new-name textarea").fill("Scratch")
    page.click("#create-project")
    wait_text(page, "#project-title", "Scratch", 20_000)
    page.click("#manage")
    page.click("#duplicate-project")
    wait_text(page, "#project-title", "Scratch copy", 20_000)
    replace_text(page, "rename-to", "Scratch copy", "Scrap")
    page.click("#rename-project")
    wait_text(page, "#project-title", "Scrap", 20_000)
    page.click("#delete-project")
    page.get_by_text("This cannot be undone").first.wait_for()
    screenshot(page, "projects")
    page.click("#delete-confirm")
    wait_text(page, "#project-title", "No project open", 20_000)
    store = Store(studio.db_path)
    names = {p.name for p in store.list_projects()}
    store.close()
    assert "Scratch" in names and "Scrap" not in names and "Scratch copy" not in names
    context.close()
