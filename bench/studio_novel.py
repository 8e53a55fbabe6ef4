"""Studio speed on a novel: a 100,000-word two-level project opened and browsed in Chromium.

Builds a written two-level project (30 chapters of 4 scenes, the test suite's fake prose, a
recap per chapter) in a real SQLite file, serves the studio on it (`python -m app studio`) and
measures in headless Chromium, each several times: opening the project (a click in the list
until the document shows the last chapter), opening the plan editor (its tab, until the chapters
table shows), switching chapters in the plan editor (a click on the chapter picker's option until
the scenes table shows that chapter's scenes), switching chapters in the document (a click on a
chapter group until its text shows) and choosing a chapter's recap to edit. Each time runs in
the page, from the press to the first check that sees the result (every 10 ms), once the page
is idle. Prints JSON: milliseconds per action (median and worst).

    python -m bench.studio_novel [--words 100000] [--chapters 30] [--scenes 4] [--tries 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.schema import Chapter, Plan, PlanSection
from engine.store.database import Store
from harness.fake_backend import prose
from harness.studio import CHROMIUM, free_port, launch_chromium, wait_ready

REPO = Path(__file__).resolve().parents[1]
NAME = "Novel"


def build(db: Path, words: int, chapter_count: int, scenes_per_chapter: int) -> Plan:
    """The written project: every scene done, every chapter recapped."""
    per_scene = words // (chapter_count * scenes_per_chapter)
    chapters = [
        Chapter(title=f"Chapter title {c}", summary=f"What happens in chapter {c}.", words=1)
        for c in range(1, chapter_count + 1)
    ]
    scenes = [
        PlanSection(
            title=f"Scene {c + 1}.{k + 1}",
            main_point="Something turns.",
            words=per_scene,
            chapter=chapter.id,
        )
        for c, chapter in enumerate(chapters)
        for k in range(scenes_per_chapter)
    ]
    plan = Plan(chapters=chapters, sections=scenes)
    store = Store(db)
    try:
        project = store.create_project(NAME, "Write a long novel.", plan.total_words)
        store.save_plan(project, plan)
        for i, scene in enumerate(scenes):
            version = store.start_section(project, scene.id)
            store.save_section(version, prose(per_scene, seed=i), per_scene, done=True)
        for c, chapter in enumerate(chapters):
            store.save_recap(project, chapter.id, prose(60, seed=500 + c), edited=False)
    finally:
        store.close()
    return plan


class Requests:
    """The page's event requests to the studio still running (heartbeats left out)."""

    def __init__(self, page):
        self.open: set = set()
        self.page = page
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request) -> None:
        if "/queue/" in request.url:
            self.open.add(request)

    def _end(self, request) -> None:
        self.open.discard(request)

    def settle(self, quiet_s: float = 0.3) -> None:
        """Wait until no event request ran for `quiet_s` (earlier actions' follow-ups done)."""
        quiet_since = deadline = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s and time.monotonic() - deadline < 10:
            self.page.wait_for_timeout(50)
            if self.open:
                quiet_since = time.monotonic()


# in the page: when the next press happens, and when a selector first shows a text (or a
# textbox a value), both on the page's own clock
ON_PRESS = """() => { window.__pressed = null; document.addEventListener('pointerdown',
  () => { window.__pressed = performance.now(); }, {capture: true, once: true}); }"""
SHOWS = """([sel, text]) => { const e = document.querySelector(sel);
  return e && e.innerText.includes(text) ? performance.now() : false; }"""
HOLDS = """([sel, text]) => { const e = document.querySelector(sel);
  return e && e.value === text ? performance.now() : false; }"""


def timed(page, requests: "Requests", action, check: str, selector: str, text: str) -> float:
    """Milliseconds from the press that `action` makes until `check` (SHOWS or HOLDS) holds for
    `selector` and `text`, measured in the page once it is idle (no earlier request running)."""
    requests.settle()
    page.evaluate(ON_PRESS)
    action()
    seen = page.wait_for_function(check, arg=[selector, text], polling=10, timeout=30_000)
    return seen.json_value() - page.evaluate("window.__pressed")


def shows(page, selector: str, text: str) -> None:
    page.wait_for_function(SHOWS, arg=[selector, text], polling=50, timeout=30_000)


def choice(page, menu: str, name: str):
    """Open a dropdown and find one of its options (timing starts at the option's click)."""
    page.locator(f"{menu} input").click()
    option = page.get_by_role("option", name=name, exact=True)
    option.wait_for()
    return option


def measure(args) -> dict:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="longwrite-novel-"))
    db = folder / "novel.db"
    plan = build(db, args.words, args.chapters, args.scenes)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "app", "studio", "--port", str(port), "--no-browser"]
    server = subprocess.Popen(
        [*command, "--db", str(db)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "server.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}/"
    last = plan.chapters[-1]
    times: dict[str, list[float]] = {
        "open_project": [],
        "open_plan_editor": [],
        "switch_chapter_plan": [],
        "switch_chapter_document": [],
        "choose_recap": [],
    }
    try:
        wait_ready(url, server)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, args.chromium)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            requests = Requests(page)
            for attempt in range(args.tries):
                page.goto(url)
                page.get_by_role("tab", name="Write").click()  # the document shows on opening
                link = page.locator("#project-list").get_by_text(NAME, exact=True)
                link = link.filter(visible=True)
                link.wait_for()
                heading = f"Chapter {args.chapters} · {last.title}"
                times["open_project"].append(
                    timed(page, requests, link.click, SHOWS, "#document", heading)
                )
                plan_tab = page.get_by_role("tab", name="Plan")
                times["open_plan_editor"].append(
                    timed(page, requests, plan_tab.click, SHOWS, "#chapters", "in chapter 1.")
                )
                for number in (args.chapters // 2 + attempt, 2 + attempt):
                    chapter = plan.chapters[number - 1]
                    option = choice(page, "#chapter-pick", f"{number}. {chapter.title}")
                    times["switch_chapter_plan"].append(
                        timed(page, requests, option.click, SHOWS, "#plan", f"Scene {number}.1")
                    )
                page.get_by_role("tab", name="Write").click()
                shows(page, "#document", last.title)
                for number in (3 + attempt, args.chapters // 2 + attempt):
                    group = f'#document details[data-chapter="{number}"]'
                    summary = page.locator(f"{group} summary")
                    scene = f"Scene {number}.{args.scenes}"
                    times["switch_chapter_document"].append(
                        timed(page, requests, summary.click, SHOWS, group, scene)
                    )
                page.click("#recap-tools")
                recap = page.locator("#recap-text textarea")
                for number in (4 + attempt, args.chapters - 1 - attempt):
                    chapter = plan.chapters[number - 1]
                    expected = prose(60, seed=500 + number - 1)
                    option = choice(page, "#recap-chapter", f"{number}. {chapter.title}")
                    times["choose_recap"].append(
                        timed(page, requests, option.click, HOLDS, "#recap-text textarea", expected)
                    )
                    assert recap.input_value() == expected
            document_words = len(page.locator("#document").inner_text().split())
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "words": plan.total_words,
        "chapters": len(plan.chapters),
        "scenes": len(plan.sections),
        "words_in_document": document_words,
        "tries": args.tries,
        "ms": {
            name: {"median": round(statistics.median(values)), "worst": round(max(values))}
            for name, values in times.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--chapters", type=int, default=30)
    parser.add_argument("--scenes", type=int, default=4, help="scenes per chapter")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--chromium", default=CHROMIUM)
    print(json.dumps(measure(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
