"""The studio's private temporary folder: exports and Gradio's file cache live in one folder only
this user can read (0700), removed when the studio exits; folders left by a killed studio are
removed when the next one starts.

Gradio otherwise copies every file it serves into /tmp/gradio, readable by every user of the
machine, and keeps them after the studio is gone.
"""

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

PREFIX = "longwrite-studio-"


@cache
def session_dir() -> Path:
    """This process's private folder (created on first use, with stale ones cleaned first)."""
    remove_stale()
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))  # mode 0700
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def exports_dir() -> Path:
    """Where the studio writes the export files it offers for download."""
    folder = session_dir() / "exports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def gradio_cache_dir() -> Path:
    """What GRADIO_TEMP_DIR should name, so Gradio's copies of served files stay private."""
    folder = session_dir() / "gradio"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def remove_stale() -> list[Path]:
    """Remove this user's folders whose studio process is gone; returns what was removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX).split("-", 1)[0]
        try:
            mine = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
