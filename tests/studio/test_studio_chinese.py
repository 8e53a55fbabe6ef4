"""The studio in Chinese, in Chromium with the zh-CN locale: no English left on the page, the
main buttons and tabs in Chinese, an error in Chinese, and the language switch (remembered)."""

import re

import pytest

from tests.studio.conftest import screenshot

# Names that read the same in both languages, and Gradio's own footer link
KEPT = {"longwrite", "studio", "Markdown", "HTML", "DOCX", "EPUB", "GGUF", "S_l", "Runs"}
KEPT |= {"SmolLM2", "Instruct", "Q4_1", "English"}


def english_words(text: str) -> set[str]:
    return {word for word in re.findall(r"[A-Za-z_][A-Za-z_0-9]+", text) if word not in KEPT}


@pytest.fixture
def chinese(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def wait_loaded(page, header: str = "最近编辑") -> None:
    """Until the load events' server-made texts arrived (the project list's last header)."""
    page.wait_for_function(
        "header => document.querySelector('#project-list')?.innerText.includes(header)",
        arg=header,
        timeout=60_000,
    )


def test_the_page_is_all_chinese_with_a_chinese_error(studio, chinese):
    page = chinese
    page.goto(studio.url)
    wait_loaded(page)
    text = page.locator("body").inner_text()
    assert "尚未打开项目" in text
    assert english_words(text) == set()
    for name in ("构思", "大纲", "写作", "篇幅"):
        page.get_by_role("tab", name=name).first.wait_for(timeout=10_000)
    assert page.locator("#create-project").inner_text() == "新建"
    assert page.locator("#brief-draft").inner_text() == "起草大纲"
    placeholders = page.eval_on_selector_all(
        "[placeholder]", "nodes => nodes.map((node) => node.placeholder).join(' ')"
    )
    assert english_words(placeholders) == set()

    page.locator("#new-name textarea, #new-name input").first.fill("灯塔")
    page.locator("#create-project").click()
    page.get_by_text("已新建「灯塔」。").first.wait_for(timeout=20_000)
    screenshot(page, "studio-zh")
    page.locator("#new-name textarea, #new-name input").first.fill("灯塔")
    page.locator("#create-project").click()
    page.get_by_text("已有名为「灯塔」的项目，请换一个名字。").first.wait_for(timeout=20_000)


def test_the_switch_turns_the_page_to_english_and_back_and_is_remembered(studio, chinese):
    page = chinese
    page.goto(studio.url)
    wait_loaded(page)
    page.locator("#language").get_by_text("English", exact=True).click()
    page.get_by_role("tab", name="Brief").first.wait_for(timeout=30_000)
    wait_loaded(page, "Last edited")
    assert page.locator("#create-project").inner_text() == "Create"
    page.reload()
    wait_loaded(page, "Last edited")
    page.get_by_role("tab", name="Brief").first.wait_for(timeout=30_000)
    assert page.locator("#brief-draft").inner_text() == "Draft plan"
    page.locator("#language").get_by_text("中文", exact=True).click()
    page.get_by_role("tab", name="构思").first.wait_for(timeout=30_000)
    wait_loaded(page)
    assert page.locator("#create-project").inner_text() == "新建"
