"""`longwrite import FILE`: a manuscript (.md, .txt, .docx) becomes a project of written
sections, each summarized by the model into its plan row."""

import click

from app.cli import db_option
from app.options import model_options, threads_option


@click.command("import")
@click.argument("file", type=click.Path(path_type=str))
@click.option(
    "--project",
    "project_name",
    help="Project name (default: the file's title, a lone leading '# Title', else its name; "
    "'Title (2)' when a project has that name).",
)
@db_option
@model_options
@threads_option
def import_manuscript(file, project_name, db, load):
    """Import a manuscript, split on its headings and *** scene breaks; the model drafts a
    one-line summary of each piece as its plan row's main point."""
    from engine.models.backends import open_backend
    from engine.projects.importing import Imported, ImportProgress, prepare_import, run_import
    from engine.store.database import Store

    store = Store(db)
    prepared = prepare_import(store, file, project_name)  # before the model loads
    backend = open_backend(load)
    try:
        for event in run_import(store, prepared, backend, load):
            if isinstance(event, ImportProgress):
                click.echo(
                    f"Summarizing piece {event.piece}/{event.count}: {event.title}", err=True
                )
            elif isinstance(event, Imported):
                project = event.project
    finally:
        backend.close()
    plan = store.plan(project)
    for i, row in enumerate(plan.sections, start=1):
        click.echo(f"  {i:>2}. [{row.id}] {row.title} ({row.words:,} words): {row.main_point}")
    click.echo(
        f"Imported {len(plan.sections)} sections, {plan.total_words:,} words, as "
        f"{project.name!r}; `longwrite export doc {project.name!r} -o FILE` writes it out.",
        err=True,
    )
