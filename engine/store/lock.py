"""One writer per project: a row in the database's `locks` table names the process writing it.

A writer (the CLI's `write`, a studio generation, a rewrite) takes the project's row for the
length of its run; a second writer is refused with one line naming the holder. A row whose
process is gone (killed, crashed) is taken over, and the runs that process left "running" are
marked "interrupted" when a database is opened. A studio also registers itself while it serves,
so that `longwrite restore` does not replace a database in use.

The table is process coordination, not project data, so it is created here on first use rather
than by a migration.
"""

import os
import socket
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import UserError

HOST = socket.gethostname()


@dataclass
class Holder:
    """A process holding a lock row."""

    scope: str
    token: str
    pid: int
    host: str
    kind: str
    process_start: str
    since: str

    def describe(self) -> str:
        return f"{self.kind} (pid {self.pid} on {self.host}, since {self.since[11:19]} UTC)"

    def alive(self) -> bool:
        """Whether the holding process still runs. A process on another machine sharing the
        file cannot be checked, so it counts as alive."""
        if self.host != HOST:
            return True
        return _process_start(self.pid) == self.process_start


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "create table if not exists locks (scope text primary key, token text, pid integer, "
        "host text, kind text, process_start text, since text)"
    )


def holders(conn: sqlite3.Connection) -> list[Holder]:
    """Every lock row, live or not (none when the table does not exist yet)."""
    try:
        rows = conn.execute(
            "select scope, token, pid, host, kind, process_start, since from locks"
        ).fetchall()
    except sqlite3.OperationalError:  # no such table
        return []
    return [Holder(*row) for row in rows]


def live_holders(conn: sqlite3.Connection) -> list[Holder]:
    return [holder for holder in holders(conn) if holder.alive()]


@contextmanager
def hold_project(conn: sqlite3.Connection, project_id: int, name: str) -> Iterator[None]:
    """Write project `project_id` alone for the length of the block; raises UserError when a
    live process holds it, takes it over (marking its runs interrupted) when the holder died."""
    with _held(conn, f"project:{project_id}", lambda holder: _refuse(name, holder), project_id):
        yield


def _refuse(name: str, holder: Holder) -> None:
    raise UserError(key="error.project_held", name=name, holder=holder.describe())


def check_free(conn: sqlite3.Connection, project_id: int, name: str) -> None:
    """Raise the refusal hold_project would give, without taking the lock (a face checks
    before loading a model; the run itself takes the lock)."""
    holder = next((h for h in holders(conn) if h.scope == f"project:{project_id}"), None)
    if holder is not None and holder.alive():
        _refuse(name, holder)


@contextmanager
def hold_database(conn: sqlite3.Connection) -> Iterator[None]:
    """Mark the database as in use by this process (a studio) for the length of the block."""
    with _held(conn, f"open:{uuid.uuid4().hex}", lambda _holder: None, None):
        yield


def recover_dead_runs(conn: sqlite3.Connection) -> None:
    """Drop lock rows of dead processes; runs and projects still "running"/"writing" without a
    live writer are marked "interrupted" (their process was killed). Reads first, so that an
    open with nothing to recover does not wait for a writer's transaction."""
    ensure_table(conn)
    if not _table_exists(conn, "runs") or not _needs_recovery(conn):
        return
    with _write_transaction(conn):
        for holder in holders(conn):
            if not holder.alive():
                conn.execute("delete from locks where scope = ?", [holder.scope])
        for project_id in _orphaned_projects(conn):
            _mark_interrupted(conn, project_id)


def _needs_recovery(conn: sqlite3.Connection) -> bool:
    return any(not holder.alive() for holder in holders(conn)) or bool(_orphaned_projects(conn))


def _orphaned_projects(conn: sqlite3.Connection) -> list[int]:
    """Projects with a run still "running" that no live process holds."""
    held = {holder.scope for holder in holders(conn) if holder.alive()}
    running = conn.execute("select distinct project_id from runs where status = 'running'")
    return [project_id for (project_id,) in running if f"project:{project_id}" not in held]


def process_kind() -> str:
    """How this process is named to a second writer: the longwrite command it runs."""
    command = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1].isalpha() else ""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if program in ("longwrite", "__main__.py") and command:
        return f"`longwrite {command}`"
    return "another longwrite process"


@contextmanager
def _held(conn, scope, refuse, project_id: int | None) -> Iterator[None]:
    ensure_table(conn)
    token = uuid.uuid4().hex
    with _write_transaction(conn):
        current = next((h for h in holders(conn) if h.scope == scope), None)
        if current is not None and current.alive():
            refuse(current)
        conn.execute(
            "insert or replace into locks values (?, ?, ?, ?, ?, ?, ?)",
            [
                scope,
                token,
                os.getpid(),
                HOST,
                process_kind(),
                _process_start(os.getpid()),
                datetime.now(UTC).isoformat(timespec="seconds"),
            ],
        )
        if current is not None and project_id is not None:
            _mark_interrupted(conn, project_id)  # the previous holder died mid-run
    try:
        yield
    finally:
        with _write_transaction(conn):
            conn.execute("delete from locks where scope = ? and token = ?", [scope, token])


def _mark_interrupted(conn: sqlite3.Connection, project_id: int) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute(
        "update runs set status = 'interrupted', finished_at = ? "
        "where project_id = ? and status = 'running'",
        [now, project_id],
    )
    conn.execute(
        "update projects set status = 'interrupted' where id = ? and status = 'writing'",
        [project_id],
    )


@contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT: the write lock first, so check-then-insert is atomic."""
    if conn.in_transaction:  # a statement of the caller's opened one implicitly: end it
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    query = "select 1 from sqlite_master where type = 'table' and name = ?"
    return conn.execute(query, [name]).fetchone() is not None


def _process_start(pid: int) -> str:
    """An identity of a running process that survives pid reuse: its start time in clock
    ticks after boot on Linux ("" when the process does not exist), else just "alive"."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return ""
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ""
    except PermissionError:
        pass
    return "alive"
