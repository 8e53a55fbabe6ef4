"""Backups of the project database with SQLite's online backup API (safe while others write).

Automatic backups are taken before a migration changes an existing database and once a day of
use; they go to a `backups` folder beside the database, and the newest KEEP are kept. A copy is
checked (`PRAGMA quick_check`) before it counts, so a damaged database never replaces good
backups. Restoring refuses while a writer or a studio holds the database, and keeps the file it
replaces.
"""

import os
import shutil
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import UserError
from engine.messages import Phrase
from engine.store.lock import live_holders

KEEP = 7
DAY_S = 24 * 3600
SUFFIX = ".db"


def backups_dir(db_path: Path) -> Path:
    return Path(db_path).parent / "backups"


def backup_files(db_path: Path) -> list[Path]:
    """The database's backups in the backups folder, oldest first."""
    folder = backups_dir(db_path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{Path(db_path).stem}-2*{SUFFIX}"))


def last_backup_time(db_path: Path) -> datetime | None:
    """When the newest backup of the database was taken (None when there is none)."""
    files = backup_files(db_path)
    if not files:
        return None
    return datetime.fromtimestamp(files[-1].stat().st_mtime, UTC)


def take_backup(
    conn: sqlite3.Connection, db_path: Path, reason: str, to: Path | None = None
) -> Path:
    """Copy the database behind `conn` to `to` (default: a new file in the backups folder),
    checked before it replaces anything; the folder then keeps its newest KEEP files."""
    if to is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
        to = backups_dir(db_path) / f"{Path(db_path).stem}-{stamp}-{reason}{SUFFIX}"
    to = Path(to)
    partial = to.with_name(to.name + ".partial")
    try:
        to.parent.mkdir(parents=True, exist_ok=True)
        _copy(conn, partial)
        problem = integrity_problem(partial)
        if problem:
            raise database_error(db_path, problem)
        os.replace(partial, to)
    except OSError as error:
        raise UserError(key="error.backup_unwritable", path=to, problem=error.strerror) from None
    finally:
        partial.unlink(missing_ok=True)
    if to.parent == backups_dir(db_path):
        for old in backup_files(db_path)[:-KEEP]:
            old.unlink(missing_ok=True)
    return to


def daily_backup(conn: sqlite3.Connection, db_path: Path) -> Path | None:
    """A backup when the database holds projects and its newest backup is a day old or more."""
    if not _has_projects(conn):
        return None
    newest = last_backup_time(db_path)
    if newest is not None and time.time() - newest.timestamp() < DAY_S:
        return None
    return take_backup(conn, db_path, "daily")


def backup_before_migration(conn: sqlite3.Connection, db_path: Path) -> Path | None:
    """A backup of an existing database (one with projects) about to be migrated."""
    return take_backup(conn, db_path, "migration") if _has_projects(conn) else None


def restore(db_path: Path, source: Path) -> Path | None:
    """Replace the database with the backup `source`; returns where the replaced file was kept.

    Refused while a live process holds the database or one of its projects."""
    db_path, source = Path(db_path), Path(source)
    if not source.is_file():
        raise UserError(key="error.backup_missing", path=source, folder=backups_dir(db_path))
    problem = integrity_problem(source)
    if problem:
        raise UserError(key="error.backup_unusable", path=source, problem=problem)
    if db_path.exists():
        _refuse_if_held(db_path)
    kept = _keep_replaced(db_path)
    partial = db_path.with_name(db_path.name + ".restoring")
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup:
        _copy(backup, partial)
    for leftover in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(partial, db_path)
    return kept


def integrity_problem(path: Path) -> str | None:
    """What is wrong with a database file, or None when quick_check passes and it holds the
    project tables."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                return f"damaged: {result}"
            if not _has_projects(conn, need_rows=False):
                return "it holds no longwrite projects table"
    except sqlite3.DatabaseError as error:
        return str(error)
    return None


def database_error(db_path: Path | None, error: object) -> UserError:
    """The one-line error for a database that cannot be read: what happened and how to restore
    it."""
    where = Phrase("database.named", {"path": db_path}) if db_path else Phrase("database.unnamed")
    reason = str(error).lower()
    if "locked" in reason or "busy" in reason:
        return UserError(key="error.db_locked", where=where, problem=error)
    if "readonly" in reason or "read-only" in reason:
        return UserError(key="error.db_readonly", where=where, problem=error)
    if "full" in reason:
        return UserError(key="error.db_full", where=where, problem=error)
    files = backup_files(db_path) if db_path else []
    if not files:
        return UserError(key="error.db_damaged_no_backup", where=where, problem=error)
    command = f"longwrite restore {files[-1]}" + (f" --db {db_path}" if db_path else "")
    return UserError(key="error.db_damaged", where=where, problem=error, command=command)


def database_problem(db_path: Path | None, error: object) -> str:
    """database_error's line in English (logs, checks)."""
    return str(database_error(db_path, error))


def _copy(source: sqlite3.Connection, to: Path) -> None:
    to.unlink(missing_ok=True)
    target = sqlite3.connect(to)
    try:
        source.backup(target)
    finally:
        target.close()


def _has_projects(conn: sqlite3.Connection, need_rows: bool = True) -> bool:
    query = "select 1 from sqlite_master where type = 'table' and name = 'projects'"
    if conn.execute(query).fetchone() is None:
        return False
    return not need_rows or conn.execute("select 1 from projects limit 1").fetchone() is not None


def _refuse_if_held(db_path: Path) -> None:
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
            held = live_holders(conn)
    except sqlite3.DatabaseError:  # too damaged to read its locks: no one can be using it
        return
    if held:
        raise UserError(key="error.database_in_use", path=db_path, holder=held[0].describe())


def _keep_replaced(db_path: Path) -> Path | None:
    """Copy the file about to be replaced (and its write-ahead log) into the backups folder."""
    if not db_path.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    kept = backups_dir(db_path) / f"{db_path.stem}-replaced-{stamp}{SUFFIX}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(db_path, kept)
    wal = Path(f"{db_path}-wal")
    if wal.exists():
        shutil.copy2(wal, Path(f"{kept}-wal"))
    return kept
