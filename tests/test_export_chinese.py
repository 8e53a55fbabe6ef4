"""A Chinese project written on the embedded model exports to every format, and each file
opens and declares Chinese: docx with python-docx, epub with ebooklib, html in Chromium."""

import json
import zipfile

import docx
import pytest
from docx.oxml.ns import qn
from ebooklib import epub
from playwright.sync_api import sync_playwright

from harness.studio import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import run_cli

NAME = "灯塔看守人"
PLAN = {
    "sections": [
        {"title": "第一章：风暴之夜", "main_point": "看守人在风暴中点亮灯塔。", "words": 60},
        {"title": "第二章：漂流瓶", "main_point": "她在礁石上捡到一个漂流瓶。", "words": 60},
    ]
}


@pytest.mark.slow  # runs the embedded model
def test_chinese_project_exports_to_every_format(tmp_path):
    db, plan = tmp_path / "projects.db", tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN, ensure_ascii=False), encoding="utf-8")
    instruction = "写一篇 120 字的短篇小说，讲一位灯塔看守人在风暴之夜捡到漂流瓶。"
    written = run_cli("write", instruction, "--plan", str(plan), "--project", NAME, "--db", str(db))
    assert written.returncode == 0, written.stderr
    paths = {}
    for fmt in ("md", "html", "docx", "epub"):
        paths[fmt] = tmp_path / f"{NAME}.{fmt}"
        exported = run_cli(
            "export", "doc", NAME, "--format", fmt, "-o", str(paths[fmt]), "--db", str(db)
        )
        assert exported.returncode == 0, exported.stderr

    markdown = paths["md"].read_text("utf-8")
    assert markdown.startswith(f"# {NAME}\n") and "## 第一章：风暴之夜" in markdown

    document = docx.Document(str(paths["docx"]))
    texts = [paragraph.text for paragraph in document.paragraphs]
    assert NAME in texts and "第二章：漂流瓶" in texts
    assert document.core_properties.language == "zh-CN"
    normal = document.styles["Normal"].element.rPr
    assert normal.rFonts.get(qn("w:eastAsia")) == "SimSun"
    assert normal.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"

    book = epub.read_epub(str(paths["epub"]))
    assert book.get_metadata("DC", "language")[0][0] == "zh-CN"
    chapters = [item.get_content().decode("utf-8") for item in book.get_items_of_type(9)]
    assert any("第一章：风暴之夜" in chapter for chapter in chapters)
    with zipfile.ZipFile(paths["epub"]) as files:  # ebooklib re-renders what it reads
        pages = [files.read(n).decode() for n in files.namelist() if n.endswith(".xhtml")]
    assert pages and all('xml:lang="zh-CN"' in page for page in pages)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(paths["html"].as_uri())
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        headings = page.locator("h2").all_inner_texts()
        assert headings == ["第一章：风暴之夜", "第二章：漂流瓶"]
        assert page.title() == NAME
        browser.close()
