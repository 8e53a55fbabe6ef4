"""The HTML export read in Chromium: a serif face, a measure of about 34-40em, line height
about 1.5, centred scene breaks; printed, it drops the page's margins and width."""

from engine.export import Document, export_document
from harness.fake_backend import prose

BOOK = Document(
    "The Island",
    [("", prose(300, 1)), ("", prose(200, 2)), ("Keeper", prose(200, 3))],
    [("Arrival", 2), ("The Secret", 1)],
)
MEASURE = """() => {
  const p = document.querySelector('p');
  const style = getComputedStyle(p);
  const size = parseFloat(style.fontSize);
  const hr = document.querySelector('hr');
  return {
    measure: p.getBoundingClientRect().width / size,
    lineHeight: parseFloat(style.lineHeight) / size,
    family: style.fontFamily,
    breakMark: getComputedStyle(hr, '::after').content,
    breakAlign: getComputedStyle(hr).textAlign,
    bodyWidth: getComputedStyle(document.body).maxWidth,
  };
}"""


def test_html_reads_like_a_book_and_prints_clean(browser, tmp_path):
    path = tmp_path / "book.html"
    export_document(BOOK, "html", path)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(path.as_uri())
    shown = page.evaluate(MEASURE)
    assert 34 <= shown["measure"] <= 40, shown
    assert 1.4 <= shown["lineHeight"] <= 1.6, shown
    assert shown["family"].split(",")[-1].strip() == "serif"
    assert shown["breakMark"] == '"* * *"' and shown["breakAlign"] == "center"
    page.emulate_media(media="print")
    assert page.evaluate(MEASURE)["bodyWidth"] == "none"
    narrow = browser.new_page(viewport={"width": 400, "height": 800})
    narrow.goto(path.as_uri())
    assert narrow.evaluate(MEASURE)["measure"] < 34  # a phone's width, not 36em
    page.close()
    narrow.close()
