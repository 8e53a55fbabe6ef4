"""`longwrite projects show NAME`: a project's plan rows with their text, and its runs."""

import click

from app.cli import db_option


@click.command()
@click.argument("project_name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead.")
@db_option
def show(project_name, as_json, db):
    """Show the plan rows with section ids, each section's words, status and current version
    (a book's scenes under their chapters, with each chapter's recap), and the run history."""
    from engine.projects.service import project_overview
    from engine.store.database import Store

    store = Store(db)
    overview = project_overview(store, store.project(project_name))
    if as_json:
        click.echo(overview.model_dump_json(indent=2))
        return
    click.echo(
        f"{overview.name}: {overview.words:,}/{overview.target_words:,} words, {overview.status}, "
        f"updated {overview.updated_at}"
    )
    if overview.plan_version is None:
        click.echo("No plan yet.")
    elif overview.chapters:
        click.echo(
            f"Plan version {overview.plan_version}, {len(overview.chapters)} chapters, "
            f"{len(overview.sections)} scenes:"
        )
    else:
        click.echo(f"Plan version {overview.plan_version}, {len(overview.sections)} sections:")
    if not overview.chapters:
        for row in overview.sections:
            click.echo(_row_line(row))
    for chapter in overview.chapters:
        click.echo(
            f"  Chapter {chapter.position}. [{chapter.chapter_id}] {chapter.title} "
            f"({chapter.target_words:,} planned; {chapter.words:,} words written)"
        )
        if not chapter.scenes:
            click.echo("      scenes drafted when the run reaches it")
        for row in overview.sections:
            if row.chapter_id == chapter.chapter_id:
                click.echo("  " + _row_line(row))
        if chapter.recap:
            mark = "recap, edited" if chapter.recap_edited else "recap"
            click.echo(f"      {mark}: {' '.join(chapter.recap.split())}")
    if not overview.runs:
        click.echo("No runs yet.")
        return
    click.echo("Runs:")
    for run in overview.runs:
        figures = ""
        if run.words is not None:
            figures = f", {run.words:,} words"
        if run.length_score is not None:
            figures += f", length score {run.length_score:.1f}"
        click.echo(
            f"  #{run.id} {run.started_at} to {run.finished_at or '…'}: {run.status}{figures}"
        )


def _row_line(row) -> str:
    if row.version_id is None:
        text = "unwritten"
    else:
        text = (
            f"{row.words:,} words, {row.status}, current version {row.version_id}, "
            f"{row.versions} in its history"
        )
    planned = f"{row.target_words:,} planned"
    return f"  {row.position:>2}. [{row.section_id}] {row.title} ({planned}; {text})"
