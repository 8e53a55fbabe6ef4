"""engine.models.downloads on a full disk: refused before downloading when the Hub's size says
it cannot fit, and cleaned up when the disk fills during the transfer."""

import errno
import shutil

import pytest

from engine.errors import UserError
from engine.models import downloads
from tests.hub_server import HubServer

REPO_ID = "test-org/tiny-GGUF"
FILENAME = "tiny.Q4_K_M.gguf"
DATA = b"GGUF" + bytes(64 * 1024)


@pytest.fixture
def hub(monkeypatch):
    with HubServer({REPO_ID: {FILENAME: DATA}}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_no_room_is_refused_before_downloading(hub, tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        downloads.shutil, "disk_usage", lambda _path: usage._replace(free=len(DATA))
    )
    with pytest.raises(UserError, match="GB free; free some space"):
        downloads.pull(REPO_ID, FILENAME, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_disk_filling_up_midway_keeps_nothing(hub, tmp_path, monkeypatch):
    def full_disk(*_args):
        (tmp_path / f"{downloads.STAGING_PREFIX}{FILENAME}").mkdir()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(downloads, "_download", full_disk)
    with pytest.raises(UserError, match="is full"):
        downloads.pull(REPO_ID, FILENAME, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_pull_returns_the_checked_file(hub, tmp_path):
    path = downloads.pull(REPO_ID, FILENAME, tmp_path)
    assert path.read_bytes() == DATA
    assert downloads.pull(REPO_ID, FILENAME, tmp_path) == path  # already there: kept as is
