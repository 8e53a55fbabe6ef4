"""`longwrite backup` and `longwrite restore`: copies of the project database, and putting one
back (automatic backups are taken by engine.store.backup; these are the commands a user runs)."""

from pathlib import Path

import click

from app.cli import db_option


def _db_path(db: str | None) -> Path:
    from engine.store.database import default_db_path

    return Path(db).expanduser() if db else default_db_path()


@click.command()
@click.option(
    "--to",
    "target",
    type=click.Path(path_type=str),
    help="Write the backup here (default: the backups folder beside the database).",
)
@db_option
def backup(target, db):
    """Copy the project database now, safely while the studio or a writer is using it."""
    from engine.store.backup import take_backup
    from engine.store.database import Store

    store = Store(_db_path(db))
    try:
        written = take_backup(
            store.db.conn, store.path, "manual", Path(target).expanduser() if target else None
        )
    finally:
        store.close()
    click.echo(f"Backed up {store.path} to {written}.", err=True)


@click.command()
@click.argument("backup_file", type=click.Path(path_type=str))
@db_option
def restore(backup_file, db):
    """Replace the project database with BACKUP_FILE (the replaced file is kept as a backup).

    Refused while the studio or a writer holds the database."""
    from engine.store.backup import restore as restore_backup

    db_path = _db_path(db)
    kept = restore_backup(db_path, Path(backup_file).expanduser())
    note = f"; the replaced database is kept as {kept}" if kept else ""
    click.echo(f"Restored {db_path} from {backup_file}{note}.", err=True)
