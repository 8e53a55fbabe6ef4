"""Several writers in the studio on one served model: four Chromium sessions press Write at
once, on a studio started with --parallel 1 and on one left to the server's slots.

The model is a fake OpenAI-compatible server in llama.cpp's dialect (harness/fake_openai.py,
4 slots) that holds every request a fixed time, as a server batching its slots would, and counts
the requests in flight; the studio is the real `longwrite studio` in its own process, each
session a Chromium context with its own project. Prints JSON: for each studio, the total time
from the first press until every page says Done, and the most requests the server saw at once.

    python -m bench.studio_parallel [--sessions 4] [--sections 3] [--hold-s 1.0]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from engine.schema import Plan, PlanSection
from engine.store.database import Store
from harness.fake_openai import FakeOpenAI
from harness.studio import free_port, launch_chromium, wait_ready

REPO = Path(__file__).resolve().parents[1]
WORDS = 60  # a section's words
DONE_TIMEOUT_MS = 300_000


def seed(db_path: Path, sessions: int, sections: int) -> list[str]:
    """One planned project per session; their names."""
    store = Store(db_path)
    names = [f"Ferry {n + 1}" for n in range(sessions)]
    for name in names:
        rows = [
            PlanSection(
                title=f"Part {i + 1}", main_point=f"Scene {i + 1} of a night ferry.", words=WORDS
            )
            for i in range(sections)
        ]
        project = store.create_project(name, "A story about a night ferry.", WORDS * sections)
        store.save_plan(project, Plan(sections=rows))
    store.close()
    return names


def timed_studio(browser, server: FakeOpenAI, parallel: int | None, sessions: int, sections: int):
    folder = Path(tempfile.mkdtemp(prefix="longwrite-studio-parallel-"))
    db_path = folder / "projects.db"
    names = seed(db_path, sessions, sections)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "app", "studio", "--port", str(port), "--no-browser"]
    command += ["--db", str(db_path), "--base-url", server.url, "--model-name", server.model_id]
    command += ["--parallel", str(parallel)] if parallel else []
    with (folder / "studio.log").open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, process)
        pages = []
        for name in names:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(url)
            page.locator("#project-list").get_by_text(name, exact=True).filter(visible=True).click()
            page.wait_for_function(
                "name => document.querySelector('#project-title').innerText.includes(name)",
                arg=name,
                timeout=60_000,
            )
            page.get_by_role("tab", name="Write").click()
            pages.append(page)
        server.max_in_flight, requests_before = 0, len(server.requests)
        started = time.perf_counter()
        for page in pages:
            page.click("#write")
        for page in pages:
            page.wait_for_function(
                "/^Done/.test(document.querySelector('#progress').innerText)",
                timeout=DONE_TIMEOUT_MS,
            )
        total = time.perf_counter() - started
        for page in pages:
            page.context.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "studio": f"--parallel {parallel}" if parallel else "server's slots",
        "total_s": round(total, 2),
        "max_in_flight": server.max_in_flight,
        "requests": len(server.requests) - requests_before,
    }


def run(sessions: int = 4, sections: int = 3, hold_s: float = 1.0) -> dict:
    with FakeOpenAI("llamacpp", slots=4, hold_s=hold_s) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            one = timed_studio(browser, server, 1, sessions, sections)
            many = timed_studio(browser, server, None, sessions, sections)
        finally:
            browser.close()
    return {
        "server": f"fake OpenAI-compatible, {server.slots} slots, each request held {hold_s} s",
        "sessions": sessions,
        "sections_per_session": sections,
        "runs": [one, many],
        "speedup": round(one["total_s"] / many["total_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--sections", type=int, default=3)
    parser.add_argument("--hold-s", type=float, default=1.0)
    args = parser.parse_args()
    print(json.dumps(run(args.sessions, args.sections, args.hold_s), indent=2))


if __name__ == "__main__":
    main()
