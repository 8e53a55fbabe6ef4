"""Several tabs on one studio, at random: three Chromium pages on one studio (the scripted fake
model), each step a seeded random action in a random page — open, create, edit brief, edit
plan, draft, write, stop, rewrite, accept, restore, hand edit — and after every step the
invariants of issue 24 are checked against the database and the pages:

- a project changes only through an action pressed on it (the one its page had open);
- no saved text is lost: every section version and every plan version stays in history;
- the studio's log has no traceback;
- every error is visible in the page: no message box and no component says a bare "Error".

Prints JSON with the sequences run, steps, invariant checks and failures (the first of each).

    python -m bench.multitab [--sequences 50] [--steps 30] [--seed 1]
"""

import argparse
import json
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.schema import Plan, PlanSection
from engine.store.database import Store
from harness.studio import free_port, launch_chromium, wait_ready

REPO = Path(__file__).resolve().parents[1]
ACTIONS = (
    "open",
    "create",
    "edit_brief",
    "edit_plan",
    "draft",
    "write",
    "stop",
    "rewrite",
    "accept",
    "restore",
    "hand_edit",
)
SETTLE_S = 1.5  # every page answered and the database unchanged this long: the step ended
SETTLE_MAX_S = 120.0
INVARIANTS = ("only_pressed_project_changed", "no_text_lost", "no_traceback", "errors_visible")


# -- the database as the invariants see it ----------------------------------------------------
def snapshot(db_path: Path) -> dict[str, tuple]:
    """Per project (by id): every row naming it, table by table; a project's rows change only
    when something wrote to it."""
    with sqlite3.connect(db_path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        keyed = [t for t in tables if "project_id" in _columns(db, t)]
        shot = {}
        for (project_id,) in db.execute("select id from projects"):
            rows = {"projects": db.execute("select * from projects where id = ?", [project_id])}
            for table in keyed:
                rows[table] = db.execute(
                    f"select * from {table} where project_id = ? order by rowid", [project_id]
                )
            shot[project_id] = tuple(
                (table, repr(found.fetchall())) for table, found in rows.items()
            )
    return shot


def changed_parts(before: dict, after: dict, project_ids) -> dict[int, list[str]]:
    """Which tables changed for each of these projects (what a failure reports)."""
    return {
        pid: [t for t, rows in after.get(pid, ()) if dict(before.get(pid, ())).get(t) != rows]
        for pid in sorted(project_ids)
    }


def _columns(db, table: str) -> list[str]:
    return [column[1] for column in db.execute(f"pragma table_info({table})")]


def saved_texts(db_path: Path) -> set[tuple]:
    """Every finished section version's (id, text) and every plan version: none may disappear
    or change (a version still being written grows; a finished one stays as it is)."""
    with sqlite3.connect(db_path) as db:
        texts = {
            ("s", r[0], r[1])
            for r in db.execute("select id, text from section_versions where status = 'done'")
        }
        plans = {("p", r[0], r[1]) for r in db.execute("select project_id, version from plans")}
    return texts | plans


def settle(db_path: Path, tabs: list) -> bool:
    """Wait until every page's events were answered (each press, its queued job, the chained
    steps after it) and the database stopped changing; False if that took over SETTLE_MAX_S. A
    press answered late on a loaded machine would otherwise change its project during a later
    step, pressed on another."""
    deadline = time.monotonic() + SETTLE_MAX_S
    last, since = snapshot(db_path), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = snapshot(db_path)
        if now != last or any(events_open(tab.page) for tab in tabs):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE_S:
            return True
    return False


# Counts the page's Gradio events still open: one more for each event sent to the queue
# (queue/join), one less for each "process_completed" on the page's event stream (queue/data).
COUNT_OPEN_EVENTS = """(() => {
  window.__eventsOpen = 0;
  const fetchFirst = window.fetch.bind(window);
  const countCompleted = async (body) => {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      const lines = (rest + value).split('\\n');
      rest = lines.pop();
      for (const line of lines) {
        if (!line.startsWith('data:')) continue;
        try {
          if (JSON.parse(line.slice(5)).msg === 'process_completed') window.__eventsOpen -= 1;
        } catch (error) {}
      }
    }
  };
  window.fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const method = (init && init.method) || 'GET';
    const joins = url.includes('/queue/join');
    if (joins) window.__eventsOpen += 1;
    const response = await fetchFirst(input, init);
    if (joins && !response.ok) window.__eventsOpen -= 1;
    if (url.includes('/queue/data') && method === 'GET' && response.body) {
      const [counted, passed] = response.body.tee();
      countCompleted(counted);
      return new Response(passed, {
        status: response.status, statusText: response.statusText, headers: response.headers});
    }
    return response;
  };
})();"""


def events_open(page) -> int:
    """How many of the page's events wait for their answer (a press, a job, a timer's tick)."""
    return page.evaluate("() => window.__eventsOpen")


# -- the pages ----------------------------------------------------------------------------------
@dataclass
class Tab:
    page: object
    name: str = ""  # the project the page shows


def shown_project(page) -> str:
    title = page.locator("#project-title").inner_text().strip()
    return title.lstrip("#").strip()


def bare_errors(page) -> list[str]:
    """What in the page says "Error" and nothing else: a message box without its text, or
    Gradio's red "Error" label left on a component by an event that raised."""
    return page.evaluate(
        """() => [
          ...[...document.querySelectorAll('.toast-body.error')]
            .map(el => (el.innerText || '').replace(/Error|×/g, '').trim())
            .filter(message => message === '')
            .map(() => 'Error message without text'),
          ...[...document.querySelectorAll('span.error')]
            .filter(el => !el.closest('.toast-body') && el.offsetParent !== null)
            .map(el => { let at = el; while (at && !at.id) at = at.parentElement;
                         return `Error label on #${at ? at.id : '?'}`; })]"""
    )


def click_if(page, selector: str) -> bool:
    locator = page.locator(selector)
    if locator.count() and locator.first.is_visible():
        locator.first.click()
        return True
    return False


def open_name(page, name: str) -> None:
    cell = page.locator("#project-list").get_by_text(name, exact=True).filter(visible=True)
    if cell.count():
        cell.first.click()
        page.wait_for_function(
            "name => document.querySelector('#project-title').innerText.includes(name)",
            arg=name,
            timeout=30_000,
        )


def tab_named(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose_first_section(page) -> bool:
    if not page.locator("#section-select").is_visible():
        page.locator("#section-tools").click()  # the accordion opens
    menu = page.locator("#section-select input")
    if not menu.is_visible():
        return False
    menu.click()
    options = page.get_by_role("option", name=re.compile(r"^\d+\. "))
    if not options.count():
        page.keyboard.press("Escape")
        return False
    options.first.click()
    return True


def act(tab: Tab, action: str, rng: random.Random, names: list[str], counter: list[int]) -> str:
    """Do `action` in the tab; returns the project it was pressed on ("" for none)."""
    page = tab.page
    if action == "open":
        name = rng.choice(names)
        open_name(page, name)
        return ""
    if action == "create":
        counter[0] += 1
        name = f"Piece {counter[0]}"
        page.locator("#new-name textarea, #new-name input").first.fill(name)
        page.click("#create-project")
        page.wait_for_function(
            "name => document.querySelector('#project-title').innerText.includes(name)",
            arg=name,
            timeout=30_000,
        )
        names.append(name)
        return name  # created: the one project that may appear
    pressed = shown_project(page)
    if pressed in ("", "No project open"):
        return ""
    if action == "edit_brief":
        tab_named(page, "Brief")
        box = page.locator("#instruction textarea")
        box.fill(f"Write a 600-word story, take {rng.randint(1, 999)}.")
        page.locator("#project-title").click()
    elif action == "edit_plan":
        tab_named(page, "Plan")
        click_if(page, "#add-row")
    elif action == "draft":
        tab_named(page, "Plan")
        click_if(page, "#draft-plan")
    elif action in ("write", "stop"):
        tab_named(page, "Write")
        click_if(page, "#resume")
        if action == "stop":
            time.sleep(rng.uniform(0.2, 1.5))
            click_if(page, "#stop")
    elif action in ("rewrite", "accept", "restore", "hand_edit"):
        tab_named(page, "Write")
        if action == "accept":
            click_if(page, "#revise-accept")
        elif choose_first_section(page):
            if action == "rewrite":
                page.locator("#revise-instruction textarea").fill("make it darker")
                click_if(page, "#revise")
            elif action == "restore":
                click_if(page, "#restore-section")
            else:
                text = page.locator("#section-text textarea")
                if text.input_value().strip():
                    text.fill(text.input_value() + f" Edited {rng.randint(1, 999)}.")
                    click_if(page, "#save-section")
    return pressed


# -- a run ----------------------------------------------------------------------------------------
@dataclass
class Result:
    sequences: int = 0
    steps: int = 0
    checks: int = 0
    unsettled: int = 0  # steps whose jobs still ran after SETTLE_MAX_S
    failures: list[dict] = field(default_factory=list)


def seed_database(db_path: Path) -> list[str]:
    store = Store(db_path)
    names = []
    for name in ("Keeper", "Harbor"):
        project = store.create_project(name, f"Write a 600-word story about {name.lower()}.", 600)
        store.save_plan(
            project,
            Plan(
                sections=[
                    PlanSection(title=t, main_point=f"{t} happens.", words=200)
                    for t in ("Arrival", "Storm", "Morning")
                ]
            ),
        )
        names.append(name)
    store.close()
    return names


def start_studio(db_path: Path, log_path: Path, rate: float) -> tuple[str, subprocess.Popen]:
    """The fake-model studio on a free port, once it answers. On a loaded machine Gradio's own
    start-up check of its port can time out and end the process: it is started once more."""
    for attempt in (1, 2):
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        command = [sys.executable, "-m", "harness.fake_studio", "--db", str(db_path)]
        command += ["--port", str(port), "--rate", str(rate)]
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, process)
            return url, process
        except RuntimeError:
            process.kill()
            process.wait()
            if attempt == 2:
                raise


def run_sequence(browser, seed: int, steps: int, rate: float, result: Result) -> None:
    folder = Path(tempfile.mkdtemp(prefix="longwrite-multitab-"))
    db_path, log_path = folder / "projects.db", folder / "studio.log"
    names = seed_database(db_path)
    url, process = start_studio(db_path, log_path, rate)
    rng = random.Random(seed)
    contexts = []
    try:
        tabs = []
        for _ in range(3):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(COUNT_OPEN_EVENTS)
            contexts.append(context)
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(
                "() => document.querySelector('#project-list')?.innerText.includes('Last')",
                timeout=60_000,
            )
            tabs.append(Tab(page))
        counter = [0]
        earlier: dict[int, list] = {}  # project id -> (step, action) of the presses on it so far
        for step in range(steps):
            tab = rng.choice(tabs)
            action = rng.choice(ACTIONS)
            before, texts_before = snapshot(db_path), saved_texts(db_path)
            try:
                pressed = act(tab, action, rng, names, counter)
            except Exception as error:  # a control not there at this moment: the step is void
                pressed = ""
                print(f"seed {seed} step {step} {action}: {type(error).__name__}", file=sys.stderr)
            if not settle(db_path, tabs):
                result.unsettled += 1
            after = snapshot(db_path)
            pressed_ids = _ids_named(db_path, pressed)
            changed = {pid for pid in after if after.get(pid) != before.get(pid)}
            unpressed = changed_parts(before, after, changed - pressed_ids)
            for pid in pressed_ids:
                earlier.setdefault(pid, []).append((step, action))
            problems = {
                "only_pressed_project_changed": {
                    pid: {"tables": tables, "pressed_earlier": earlier.get(pid, [])}
                    for pid, tables in unpressed.items()
                }
                or None,
                "no_text_lost": len(texts_before - saved_texts(db_path)) or None,
                "no_traceback": "Traceback" in log_path.read_text() or None,
                "errors_visible": [e for t in tabs for e in bare_errors(t.page)] or None,
            }
            result.checks += len(INVARIANTS)
            result.steps += 1
            for invariant, problem in problems.items():
                if problem:
                    result.failures.append(
                        {
                            "seed": seed,
                            "step": step,
                            "action": action,
                            "invariant": invariant,
                            "detail": str(problem),
                        }
                    )
        result.sequences += 1
    finally:
        for context in contexts:
            context.close()
        process.terminate()
        process.wait(timeout=30)


def _ids_named(db_path: Path, name: str) -> set[int]:
    if not name:
        return set()
    with sqlite3.connect(db_path) as db:
        return {r[0] for r in db.execute("select id from projects where name = ?", [name])}


def run(sequences: int, steps: int, seed: int, rate: float) -> Result:
    from playwright.sync_api import sync_playwright

    result = Result()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for number in range(sequences):
                run_sequence(browser, seed + number, steps, rate, result)
        finally:
            browser.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=50)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=400.0, help="fake model words per second")
    args = parser.parse_args()
    started = time.monotonic()
    result = run(args.sequences, args.steps, args.seed, args.rate)
    print(
        json.dumps(
            {
                "sequences": result.sequences,
                "steps": result.steps,
                "invariant_checks": result.checks,
                "unsettled_steps": result.unsettled,
                "failures": len(result.failures),
                "first_failures": result.failures[:10],
                "wall_s": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
    if result.failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
