"""`longwrite review NAME`: the read-through, its findings listed by chapter and section."""

import click

from app.cli import USER_TEXT, db_option
from app.options import model_options, threads_option


@click.command()
@click.argument("project_name", type=USER_TEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--model-checks",
    "with_model",
    is_flag=True,
    help="Also let the model check each changed section against its plan row, the bible and "
    "the recaps (one request per section).",
)
@click.option(
    "--later",
    is_flag=True,
    help="Check later chapters: the sections after each bible entry, recap or section edited "
    "since the last review, against that change (with --model, by the model too).",
)
@click.option("--all", "show_all", is_flag=True, help="List dismissed findings too.")
@click.option(
    "--dismiss",
    type=int,
    multiple=True,
    metavar="ID",
    help="Dismiss the finding with this id (see --json) instead of reviewing; repeatable.",
)
@db_option
@model_options
@threads_option
def review(
    project_name,
    as_json,
    with_model,
    later,
    show_all,
    dismiss,
    db,
    load,
):
    """Read the draft like an editor: names that nearly match the bible, repeated sentences,
    overused phrases, point of view and tense that drift from the style, sections far from
    their length. Findings are kept with the project; a re-run keeps dismissed ones dismissed.
    """
    from engine.review.findings import set_state, stored_findings
    from engine.review.later import changes_since_review, check_later
    from engine.review.run import ReviewFinished, ReviewProgress, review_project
    from engine.store.database import Store

    store = Store(db)
    project = store.project(project_name)
    if dismiss:
        for finding_id in dismiss:
            set_state(store, project, finding_id, "dismissed")
        click.echo(f"Dismissed {len(dismiss)} finding(s).", err=True)
        return
    backend = None
    if with_model:
        from engine.models.backends import open_backend

        # the project's model, with what was given now over what was saved
        backend = open_backend(project.model.updated_by(load))
    if later:
        changes = changes_since_review(store, project)
        if not changes:
            click.echo("Nothing changed since the last review.", err=True)
        for change in changes:
            click.echo(f"Changed: {change.what}.", err=True)
        events = check_later(store, project, changes, backend) if changes else iter(())
    else:
        events = review_project(store, project, backend)
    finished = None
    for event in events:
        if isinstance(event, ReviewProgress):
            click.echo(f"Reading {event.done + 1}/{event.count}: {event.title}", err=True)
        elif isinstance(event, ReviewFinished):
            finished = event
    findings = stored_findings(store, project, include_dismissed=show_all)
    if as_json:
        click.echo("[" + ",\n".join(f.model_dump_json() for f in findings) + "]")
    else:
        for line in _listing(store, project, findings):
            click.echo(line)
    if finished is not None and backend is not None:
        click.echo(
            f"The model read {finished.model_read} section(s) ({finished.model_skipped} "
            f"unchanged, skipped); {finished.dropped} finding(s) dropped: their quote is not "
            "in the section.",
            err=True,
        )
    click.echo(f"{len(findings)} finding(s).", err=True)


def _listing(store, project, findings) -> list[str]:
    """Findings under their chapter and section headings, each with its quote."""
    plan = store.plan(project)
    lines, heading = [], None
    for finding in findings:
        index = plan.position(finding.section_id)
        row = plan.sections[index]
        chapter = plan.chapter_of(index)
        title = f"{chapter.title} / {row.title}" if chapter else row.title
        if title != heading:
            lines.append(f"\n{index + 1}. {title} [{finding.section_id}]")
            heading = title
        dismissed = " (dismissed)" if finding.state == "dismissed" else ""
        lines.append(
            f"  - [{finding.id}] {finding.severity} {finding.kind}{dismissed}: {finding.suggestion}"
        )
        lines.append(f"    “{finding.quote}”")
    return lines
