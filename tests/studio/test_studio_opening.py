"""`longwrite studio` opens the browser at its URL and finds a free port by itself."""

import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.studio.cli import DEFAULT_PORT, PORT_TRIES, _can_open_browser
from harness.studio import START_TIMEOUT_S, free_port
from tests.conftest import run_cli
from tests.studio.conftest import REPO

pytestmark = pytest.mark.slow  # real studios start

URL_LINE = re.compile(r"longwrite studio on (http://127\.0\.0\.1:(\d+)/)")


def recording_browser(folder: Path) -> tuple[Path, Path]:
    """A $BROWSER program that appends the URL it is given to a file."""
    record = folder / "opened.txt"
    script = folder / "record-browser"
    script.write_text(f'#!/bin/sh\necho "$1" >> "{record}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, record


@contextmanager
def studio_process(folder: Path, browser: Path, *args: str):
    """A real studio in a subprocess; yields it and a function returning its log so far."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env["BROWSER"] = str(browser)
    log_path = folder / "studio.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "studio", "--db", str(folder / "p.db"), *args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process, log_path.read_text
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def wait_for(condition, what: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"studio exited before {what}: {log()[-2000:]}")
        time.sleep(0.3)
    raise AssertionError(f"no {what} in {START_TIMEOUT_S} s: {log()[-2000:]}")


@contextmanager
def holding_default_port():
    """Keep 7860 busy: listen on it ourselves when it is free (something else holds it if not)."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", DEFAULT_PORT))
        holder.listen()
    except OSError:
        pass  # already taken by another program, which is just as busy
    try:
        yield
    finally:
        holder.close()


def test_busy_7860_moves_to_the_next_free_port_and_the_browser_opens_there(tmp_path):
    browser, record = recording_browser(tmp_path)
    with holding_default_port(), studio_process(tmp_path, browser) as (process, log):
        wait_for(lambda: URL_LINE.search(log()), "URL line", process, log)
        url, port = URL_LINE.search(log()).groups()
        assert DEFAULT_PORT < int(port) < DEFAULT_PORT + PORT_TRIES
        assert f"{DEFAULT_PORT} is in use" in log()
        wait_for(record.exists, "browser opened", process, log)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        time.sleep(1)  # a second opening would show up by now
        assert record.read_text().splitlines() == [url]


def test_an_explicit_busy_port_is_refused_in_one_line(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli("studio", "--port", str(port), "--db", str(tmp_path / "p.db"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: Port {port} on 127.0.0.1 is in use; pick another with --port."
    )


def test_no_browser_keeps_it_closed(tmp_path):
    browser, record = recording_browser(tmp_path)
    port = free_port()
    args = ("--port", str(port), "--no-browser")
    with studio_process(tmp_path, browser, *args) as (process, log):
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: f"on {url}" in log(), "URL line", process, log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        time.sleep(2)  # the opener polls every 0.2 s: it would have run by now
    assert not record.exists()


@pytest.mark.parametrize(
    "host, no_browser, env, opens",
    [
        ("127.0.0.1", False, {"BROWSER": "x"}, True),
        ("localhost", False, {"BROWSER": "x"}, True),
        ("127.0.0.1", True, {"BROWSER": "x"}, False),
        ("0.0.0.0", False, {"BROWSER": "x"}, False),
        ("192.168.1.5", False, {"DISPLAY": ":0"}, False),
        ("127.0.0.1", False, {"DISPLAY": ":0"}, True),
    ],
)
def test_when_the_browser_opens(monkeypatch, host, no_browser, env, opens):
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _can_open_browser(host, no_browser) is opens


def test_linux_without_a_desktop_or_browser_prints_the_url_only(monkeypatch):
    """No text browser (lynx, w3m) takes over the terminal of an SSH session."""
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert _can_open_browser("127.0.0.1", False) is False
