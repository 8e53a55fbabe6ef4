"""Issue 15 on the studio's side: no share tunnel, no foreign Host headers, a private temporary
folder that goes away with the studio, and no restore under a running studio."""

import stat
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import gradio as gr

from app.studio.cli import allowed_hosts, launch_options
from engine.store.database import Store
from harness.studio import free_port
from tests.studio.conftest import REPO, StudioServer


def _status(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# 3. GRADIO_SHARE=true opens a public share tunnel around the --auth rule
def test_launch_never_shares_even_when_gradio_share_is_set(monkeypatch):
    monkeypatch.setenv("GRADIO_SHARE", "true")
    port = free_port()
    with gr.Blocks() as demo:
        gr.Markdown("hello")
    options = launch_options("127.0.0.1", port, None, allowed_hosts("127.0.0.1"))
    try:
        demo.launch(**options, prevent_thread_lock=True)
        assert demo.share is False and demo.share_url is None
        url = f"http://127.0.0.1:{port}/"
        assert _status(url, f"127.0.0.1:{port}") == 200
        assert _status(url, f"localhost:{port}") == 200
        assert _status(url, f"rebound.example:{port}") == 400
    finally:
        demo.close()


def test_allowed_hosts():
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "::1"]
    assert allowed_hosts("192.168.1.5", ("studio.lan",)) == ["192.168.1.5", "studio.lan"]
    assert allowed_hosts("0.0.0.0") == ["*"] and allowed_hosts("127.0.0.1", ("*",)) == ["*"]


# 8. exports world-readable in /tmp and left behind; any Host header answered
def test_studio_keeps_its_files_private_refuses_foreign_hosts_and_restores(tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    temp.mkdir()
    stale = temp / "longwrite-studio-999999999-dead"  # a studio killed earlier
    (stale / "exports").mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("GRADIO_SHARE", "true")
    db = tmp_path / "projects.db"
    store = Store(db)
    store.create_project("kept", "An instruction.", 100)
    store.close()
    server = StudioServer(db, tmp_path / "studio.log")
    try:
        assert not stale.exists()
        private = [p for p in temp.iterdir() if p.name.startswith("longwrite-studio-")]
        assert len(private) == 1 and f"-{server.process.pid}-" in private[0].name
        assert stat.S_IMODE(private[0].stat().st_mode) == 0o700
        assert not (temp / "gradio").exists() and not list(temp.glob("longwrite-export-*"))
        assert _status(server.url, f"127.0.0.1:{server.port}") == 200
        assert _status(server.url, f"attacker.example:{server.port}") == 400
        copy = tmp_path / "copy.db"
        copy.write_bytes(db.read_bytes())
        refused = subprocess.run(
            [sys.executable, "-m", "app", "restore", str(copy), "--db", str(db)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2 and "`longwrite studio`" in refused.stderr
    finally:
        server.stop()
    assert server.process.returncode == 0  # SIGTERM ends it like Ctrl-C
    assert not private[0].exists()
    assert tempfile.gettempdir() != str(temp)  # the test process itself was not redirected
