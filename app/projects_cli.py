"""`longwrite projects show|history|plan|set-plan|start-over`: a project's plan rows with their
text and runs, a section's versions, the plan as a file to edit and save back (refused when the
project's plan moved on meanwhile), and starting over (undoable)."""

from pathlib import Path

import click

from app.cli import LANGUAGE, USER_TEXT, _check_writable, _say, _write_text, db_option
from engine import messages


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
        kind = messages.text(f"version.kind.{row.version_kind}", LANGUAGE["chosen"])
        text = (
            f"{row.words:,} words, {row.status}, current version {row.version_id} "
            f"({kind}, {row.version_time}), {row.versions} in its history"
        )
    planned = f"{row.target_words:,} planned"
    return f"  {row.position:>2}. [{row.section_id}] {row.title} ({planned}; {text})"


@click.command()
@click.argument("project_name", type=USER_TEXT)
@click.argument("section")
@db_option
def history(project_name, section, db):
    """Every version of one section, oldest first, with its kind (written, rewrite, hand edit,
    restore, imported) and time. SECTION is the row's number or its id (see `projects show`)."""
    from engine.projects.service import version_line
    from engine.store.database import Store

    store = Store(db)
    project = store.project(project_name)
    section_id = _section_id(store, project, section)
    current = store.versions(project).sections.get(section_id)
    versions = store.section_history(project, section_id)
    if not versions:
        click.echo(f"Section {section} has no text yet.")
    for version in versions:
        click.echo("  " + version_line(version, version.version_id == current, LANGUAGE["chosen"]))


def _section_id(store, project, section: str) -> str:
    """A section id from a row number (1-based) or an id of the current plan."""
    from engine.errors import UserError

    plan = store.plan(project)
    if plan is None:
        raise UserError(key="error.no_plan", name=project.name)
    if section.isdigit() and 1 <= int(section) <= len(plan.sections):
        return plan.sections[int(section) - 1].id
    if plan.position(section) is None:
        raise UserError(
            key="error.section_unknown",
            section=section,
            name=project.name,
            count=len(plan.sections),
        )
    return section


@click.command("plan")
@click.argument("project_name", type=USER_TEXT)
@click.option("-o", "--output", type=click.Path(path_type=str), help="Write it here (not stdout).")
@db_option
def plan_file(project_name, output, db):
    """Print a saved project's plan as JSON to edit, marked with its plan version; `projects
    set-plan` saves it back unless the project's plan moved on meanwhile."""
    from engine.projects.service import plan_file_text
    from engine.store.database import Store

    if output:
        _check_writable(Path(output))
    store = Store(db)
    project = store.project(project_name)
    text, version = plan_file_text(store, project)
    if not output:
        click.echo(text)
        return
    _write_text(Path(output), text + "\n")
    _say("cli.plan_exported", version=version, name=project.name, path=output)


@click.command("set-plan")
@click.argument("project_name", type=USER_TEXT)
@click.argument("file", type=click.Path(path_type=str))
@db_option
def set_plan(project_name, file, db):
    """Save an edited plan file as the project's plan (texts stay with their rows by id). A file
    from `projects plan` is refused when the project's plan changed after it was exported:
    nothing is saved, and you export again and redo your edits."""
    from engine.projects.service import save_plan_file
    from engine.store.database import Store

    store = Store(db)
    project = store.project(project_name)
    version, saved = save_plan_file(store, project, file)
    _say("cli.plan_set" if saved else "cli.plan_unchanged", version=version, name=project.name)


@click.command("start-over")
@click.argument("project_name", type=USER_TEXT)
@click.option("--undo", is_flag=True, help="Bring back the texts the last start over set aside.")
@db_option
def start_over(project_name, undo, db):
    """Set every section's text aside so `write --resume` writes the piece again; the texts stay
    in history, and `--undo` brings them all back."""
    from engine.projects.service import start_over as set_aside
    from engine.projects.service import undo_start_over
    from engine.store.database import Store
    from engine.store.lock import check_free

    store = Store(db)
    project = store.project(project_name)
    check_free(store.db.conn, project.id, project.name)
    if undo:
        count = undo_start_over(store, project)
        _say("cli.start_over_undone", sections=count, name=project.name)
        return
    count = len(store.sections(project))
    set_aside(store, project)
    _say("cli.started_over", sections=count, name=project.name)
