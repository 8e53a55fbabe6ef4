"""A real studio in a subprocess on a free port, and headless Debian Chromium via Playwright."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from harness.studio import free_port, launch_chromium, wait_ready

REPO = Path(__file__).resolve().parents[2]
# The README's images: LONGWRITE_SCREENSHOTS=assets/screenshots pytest tests/studio renews them.
SCREENSHOTS = Path(
    os.environ.get("LONGWRITE_SCREENSHOTS", Path(tempfile.gettempdir()) / "longwrite-screenshots")
)


class StudioServer:
    """`python -m app studio` on 127.0.0.1 with a temporary database; `env` adds to (or
    replaces) the test's environment variables."""

    def __init__(self, db_path: Path, log_path: Path, *extra: str, env: dict | None = None):
        self.db_path = db_path
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        env["GRADIO_ANALYTICS_ENABLED"] = "False"
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            self.command(db_path, extra),
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(self.url, self.process)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}: {log_path.read_text()[-2000:]}") from None

    def command(self, db_path: Path, extra: tuple[str, ...]) -> list[str]:
        return [
            sys.executable,
            "-m",
            "app",
            "studio",
            "--port",
            str(self.port),
            "--no-browser",
            "--db",
            str(db_path),
            *extra,
        ]

    def stop(self, check_log: bool = True) -> None:
        """End the studio; then its log must hold no traceback (every handler answered with a
        value or a keyed message), unless `check_log` is off (a test that kills it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self.log.close()
        if check_log:
            assert_no_traceback(self.log_path)


def assert_no_traceback(log_path: Path) -> None:
    """The studio's log has no traceback: a handler that failed shows a bare "Error"."""
    log = log_path.read_text(encoding="utf-8", errors="replace")
    at = log.find("Traceback")
    assert at < 0, f"the studio logged a traceback:\n{log[max(0, at - 200) : at + 3000]}"


def error_labels(page) -> list[str]:
    """The ids of components showing Gradio's red "Error" label: left by an event that raised,
    it covers the component's text until its next answer. A refusal is a message instead."""
    return page.evaluate(
        """() => [...document.querySelectorAll('span.error')]
          .filter(el => !el.closest('.toast-body') && el.offsetParent !== null)
          .map(el => { let at = el; while (at && !at.id) at = at.parentElement;
                       return at ? at.id : '?'; })"""
    )


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio")
    server = StudioServer(folder / "projects.db", folder / "studio.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_studio(page, url: str) -> None:
    """Load the studio and wait for its load events' server-made text (the project list's last
    header): a press before the page is wired up is lost."""
    page.goto(url)
    page.wait_for_function(
        "() => document.querySelector('#project-list')?.innerText.includes('Last edited')",
        timeout=60_000,
    )


def replace_text(page, elem_id: str, shown: str, new: str) -> None:
    """Type `new` into a textbox once it shows the server's value `shown`: a box in an accordion
    just opened may still receive that value after Playwright's fill, and would overwrite it, so
    the typing is checked a second later and done again if it was overwritten."""
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    expect(box).to_have_value(shown, timeout=20_000)
    for _ in range(3):  # a refresh still on its way (after a model switch) may set it back once
        box.fill(new)
        page.wait_for_timeout(1_000)
        if box.input_value() == new:
            return
    expect(box).to_have_value(new)


def open_project(page, url: str, name: str) -> None:
    """Open the project `name` from the list and show its Write tab."""
    page.goto(url)
    page.locator("#project-list").get_by_text(name, exact=True).filter(visible=True).click()
    page.wait_for_function(
        "name => document.querySelector('#project-title').innerText.includes(name)",
        arg=name,
        timeout=30_000,
    )
    page.get_by_role("tab", name="Write").click()
