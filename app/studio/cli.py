"""`longwrite studio`: serve the studio in the browser."""

import ipaddress
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path

import click

from app.cli import db_option
from app.options import JudgeChoice, gather, judge_options, model_options
from app.studio.accounts import Accounts, hash_password
from engine.errors import UserError
from engine.models.discovery import check_gguf_file
from engine.models.settings import LoadSettings

LOOPBACK_NAMES = {"localhost"}
DEFAULT_PORT = 7860
PORT_TRIES = 20  # without --port: 7860, else the next free of 7861…7879
BROWSER_WAIT_S = 60  # the browser opens once the studio answers, or not at all
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"]


@dataclass(frozen=True)
class Serving:
    """How the studio offers models: --models-dir's GGUF files in the model menu, and
    --parallel generations at once on a model server."""

    models_dir: str | None = None
    parallel: int | None = None


@dataclass(frozen=True)
class Access:
    """Who may reach the studio: the writers of --auth-file, or --auth's (LONGWRITE_AUTH's)
    user:password; and --allow-host's extra host names."""

    auth_file: str | None = None
    auth_value: str | None = None
    extra_hosts: tuple[str, ...] = ()

    def accounts(self) -> Accounts | None:
        """Who may sign in (None: anyone who reaches the studio)."""
        if self.auth_file is not None and self.auth_value is not None:
            raise UserError(key="error.auth_twice")
        if self.auth_file is not None:
            return Accounts.read(self.auth_file)
        return Accounts.of_pair(self.auth_value) if self.auth_value is not None else None


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Host headers the studio answers: the address it listens on (every loopback name when
    that is a loopback address), and those allowed with --allow-host. A web page that
    rebinds its own domain to 127.0.0.1 sends its domain as Host, and is refused.
    An unspecified address (0.0.0.0, ::) listens everywhere, so every Host is answered."""
    if host in ("0.0.0.0", "::") or "*" in extra:
        return ["*"]
    names = LOOPBACK_HOSTS if _is_loopback(host) else [host]
    return list(dict.fromkeys([host, *names, *extra]))


def launch_options(host: str, port: int, accounts: Accounts | None, hosts: list[str]) -> dict:
    """The arguments of Gradio's launch(): the writers' sign-in check, never a share tunnel
    (GRADIO_SHARE, set on Colab, would open one around the sign-in rule), and only the allowed
    Host headers."""
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    return {
        "server_name": host,
        "server_port": port,
        "auth": accounts.check if accounts else None,
        "share": False,
        "app_kwargs": {
            "middleware": [Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        },
        "show_error": False,
        "ssr_mode": False,
        "quiet": True,
        "footer_links": [],
    }


def _exit_on_sigterm() -> None:
    """SIGTERM ends the studio like Ctrl-C does: cleanup (private folder, locks) runs."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))


def _use_private_temp() -> None:
    """Gradio's copies of served files, and every temporary folder of this process (the
    studio's exports among them), go inside one private folder removed at exit."""
    from app.studio import private_temp

    os.environ["GRADIO_TEMP_DIR"] = str(private_temp.gradio_cache_dir())
    tempfile.tempdir = str(private_temp.session_dir())


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _pick_port(host: str, asked: int | None) -> int:
    """The port asked for when it is free; without --port the first free one from 7860 up."""
    if asked is not None:
        if not _port_is_free(host, asked):
            raise UserError(key="error.port_busy", port=asked, host=host)
        return asked
    for port in range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES):
        if _port_is_free(host, port):
            return port
    last = DEFAULT_PORT + PORT_TRIES - 1
    raise UserError(key="error.ports_busy", first=DEFAULT_PORT, last=last, host=host)


def _studio_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _can_open_browser(host: str, no_browser: bool) -> bool:
    """Open a browser only for a studio on this machine, and only where one can show.

    On Linux without a desktop (an SSH session, a container) Python's webbrowser would fall
    back to a text browser such as lynx inside this terminal, so there it needs $BROWSER."""
    if no_browser or not _is_loopback(host):
        return False
    if sys.platform in ("darwin", "win32") or os.environ.get("BROWSER"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_browser_when_ready(url: str) -> None:
    """In the background: wait (bounded) until the studio answers, then open the default
    browser at its URL with webbrowser, which honours $BROWSER."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + BROWSER_WAIT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:  # not listening yet (an HTTP error status means it is)
                time.sleep(0.2)
        else:
            return
        webbrowser.open(url)

    threading.Thread(target=wait_then_open, name="open-browser", daemon=True).start()


def _log_generations() -> None:
    """The studio's log says when each generation starts and how many run at once."""
    log = logging.getLogger("longwrite.studio.gate")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)


def _connect_judge(judge: JudgeChoice, load: LoadSettings) -> None:
    """Let the Score action ask an LLM judge for the six quality marks; a judge GGUF loads with
    the studio's GPU layers, KV cache and flash attention."""
    from app.studio.panels.length_score import connect_judge
    from training.eval.judge import Judge

    if judge.gguf:
        check_gguf_file(Path(judge.gguf).expanduser())
    connect_judge(Judge.from_options(judge.base_url, judge.model_name, judge.gguf, load))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"Port to listen on (default: {DEFAULT_PORT}, or the next free one).",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Do not open the browser (it never opens for a --host other than this machine).",
)
@db_option
@model_options
@click.option(
    "--models-dir",
    type=click.Path(path_type=str),
    help="Folder whose .gguf files the model panel lists.",
)
@click.option(
    "--parallel",
    type=int,
    help="Generations at once on a model server (default: the server's slots where it says, "
    "else 4); a model in this process always writes one at a time.",
)
@click.option(
    "--auth-file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Writers who may sign in: one user:password line each (the password may be a hash "
    "from `longwrite hash-password`); each sees only their own projects.",
)
@click.option(
    "--auth",
    "auth_value",
    envvar="LONGWRITE_AUTH",
    help="One writer's user:password (shows in the process list: prefer LONGWRITE_AUTH or "
    "--auth-file). Sign-in is required when --host is not a loopback address.",
)
@click.option(
    "--allow-host",
    "extra_hosts",
    multiple=True,
    help="Also answer requests sent to this host name (e.g. behind a proxy); '*' for any.",
)
@gather("access", Access)
@gather("serving", Serving)
@judge_options
def studio(
    host,
    port,
    no_browser,
    db,
    load,
    access,
    serving,
    judge,
):
    """Open the studio: projects, plan editor, streaming writer and exports in the browser."""
    accounts = access.accounts()  # a bad sign-in file stops here, before anything starts
    _use_private_temp()  # before Gradio is imported: it reads its temp folder on import
    from app.studio.language import I18N
    from app.studio.model_host import ModelHost
    from app.studio.state import Studio
    from app.studio.ui import CSS, build
    from engine.store.database import Store, default_db_path
    from engine.store.lock import hold_database

    if not _is_loopback(host):
        if accounts is None:
            raise UserError(key="error.open_host_needs_auth", host=host)
        click.echo(
            f"Warning: the studio is reachable from other machines on {host}; "
            "every writer who signs in can use the model and their own projects.",
            err=True,
        )
    if load.model_path and load.base_url:
        raise UserError(key="error.model_or_url")
    if load.base_url and not load.model_name:
        raise UserError(key="error.base_url_needs_name")
    if load.model_path:
        check_gguf_file(Path(load.model_path))
    if serving.parallel is not None and serving.parallel < 1:
        raise UserError(key="error.parallel_at_least_one")
    asked_port, port = port, _pick_port(host, port)
    if judge.gguf or judge.base_url:
        _connect_judge(judge, load)
    db_path = Path(db) if db else default_db_path()
    presence = Store(db_path)  # checks the database first, and marks it in use (no restore)
    _exit_on_sigterm()
    host_model = ModelHost(load, parallel=serving.parallel)
    _log_generations()
    if not load.base_url:
        host_model.choose(load)  # a model too big for this machine stops here, in one line
    app = None
    try:
        with hold_database(presence.db.conn):
            folder = Path(serving.models_dir).expanduser() if serving.models_dir else None
            app = Studio(db_path, host_model, folder, accounts.first if accounts else None)
            demo = build(app)
            demo.queue(default_concurrency_limit=None)
            url = _studio_url(host, port)
            moved = (
                f"; {DEFAULT_PORT} is in use" if asked_port is None and port != DEFAULT_PORT else ""
            )
            click.echo(f"longwrite studio on {url} (database {app.db_path}{moved})", err=True)
            if _can_open_browser(host, no_browser):
                _open_browser_when_ready(url)
            options = launch_options(host, port, accounts, allowed_hosts(host, access.extra_hosts))
            demo.launch(**options, css=CSS, i18n=I18N)
    finally:
        if app is not None and app.voice_training is not None:
            app.voice_training.cancel()  # its child processes would outlive the studio
        host_model.close()
        presence.close()


@click.command("hash-password")
def hash_password_command():
    """Print a salted hash of a password, for a line of the studio's --auth-file (user:HASH)."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    click.echo(hash_password(password))
