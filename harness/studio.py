"""A studio process on a free local port, waited for until it answers, and the headless
Debian Chromium that browser tests and benches drive through Playwright."""

import os
import socket
import subprocess
import time
import urllib.request

CHROMIUM = os.environ.get("LONGWRITE_CHROMIUM", "/usr/bin/chromium")
# Headless in a container: no sandbox, no GPU, and nothing that calls out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 120


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> None:
    """Return once `url` answers 200; raise RuntimeError if the process exits or time runs out
    first (polled every 0.3 s, so the loop is bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the studio exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the studio did not answer at {url} within {timeout:.0f} s")


def launch_chromium(playwright, executable: str = CHROMIUM):
    """Headless Chromium from `executable` (Playwright's own browser download fails offline)."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
