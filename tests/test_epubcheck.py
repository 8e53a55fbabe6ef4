"""EPUB exports pass epubcheck, the W3C's validator, with 0 errors, for an English and a
Chinese book, and carry the reading style. Debian packages epubcheck (`apt-get install
epubcheck`); without java and its jar these tests are skipped, saying so."""

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from ebooklib import ITEM_STYLE, epub

from engine.export import Document, export_document
from harness.fake_backend import prose

EPUBCHECK_JAR = Path("/usr/share/java/epubcheck.jar")
needs_epubcheck = pytest.mark.skipif(
    shutil.which("java") is None or not EPUBCHECK_JAR.exists(),
    reason="epubcheck is not installed (apt-get install epubcheck)",
)

ENGLISH = Document(
    "The Island",
    [("Ferry", prose(120, 1)), ("", prose(90, 2)), ("Keeper", "Tobias limped & swore <x>.")],
    [("Arrival", 2), ("The Secret", 1)],
)
CHINESE = Document(
    "灯塔守护人",
    [
        ("渡船", "玛拉乘船到了岛上。海风很冷，她裹紧了外套。"),
        ("", "她在旅店住了下来，窗外就是灯塔。"),
        ("守护人", "托比亚斯一瘸一拐地走来，手里拿着一封信。"),
    ],
    [("抵达", 2), ("秘密", 1)],
)


def _epubcheck(path: Path, tmp_path: Path) -> dict:
    report = tmp_path / f"{path.stem}.json"
    result = subprocess.run(
        ["java", "-jar", str(EPUBCHECK_JAR), str(path), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.exists(), result.stderr
    return json.loads(report.read_text())


@needs_epubcheck
@pytest.mark.parametrize("document", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_epubcheck_finds_no_error(document, tmp_path):
    path = tmp_path / "book.epub"
    export_document(document, "epub", path)
    report = _epubcheck(path, tmp_path)
    problems = [
        f"{m['severity']} {m['ID']}: {m['message']}"
        for m in report["messages"]
        if m["severity"] in ("FATAL", "ERROR")
    ]
    assert problems == []
    assert report["checker"]["nFatal"] == 0 and report["checker"]["nError"] == 0


def test_every_epub_page_links_the_reading_style(tmp_path):
    path = tmp_path / "book.epub"
    export_document(ENGLISH, "epub", path)
    book = epub.read_epub(str(path))
    styles = list(book.get_items_of_type(ITEM_STYLE))
    assert len(styles) == 1 and b"line-height: 1.5" in styles[0].get_content()
    with zipfile.ZipFile(path) as packed:
        pages = [n for n in packed.namelist() if n.startswith("EPUB/chapter_")]
        assert len(pages) == 2
        for page in pages:
            assert b'<link href="style/book.css" rel="stylesheet"' in packed.read(page)
