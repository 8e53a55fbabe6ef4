"""The Review tab: the read-through's findings grouped by chapter. Click one to see its section
with the passage marked; Fix this turns it into a rewrite of that passage through the section
tools' rewrite-and-diff flow; Dismiss hides it. Check later chapters reviews the sections after
what was edited since the last review.

The deterministic checks run in the handler (seconds); with "Ask the model too" the model's
checks run as a generation like any other (queued, stoppable, resumable).
"""

import functools
import html
from collections.abc import Iterator

import gradio as gr

from app.studio import section_tools
from app.studio.events import GENERATING, INSTANT, user_errors, user_errors_stream
from app.studio.language import info, label, t
from app.studio.state import Studio
from engine.errors import UserError
from engine.review.findings import Finding, finding_by_id, set_state, stored_findings
from engine.review.later import changes_since_review, check_later
from engine.review.run import ReviewFinished, ReviewProgress, review_project
from engine.store.database import Project
from engine.writing.events import Ended, Failed

COLUMNS = ("chapter", "section", "severity", "kind", "quote", "suggestion")


def layout(w) -> None:
    with gr.Row():
        w.review_run = gr.Button(label("review.run"), variant="primary", elem_id="review-run")
        w.review_model = gr.Checkbox(label=label("review.with_model"), elem_id="review-model")
        w.review_later = gr.Button(label("review.later"), elem_id="review-later")
    w.review_progress = gr.Markdown(elem_id="review-progress")
    w.review_table = gr.Dataframe(
        headers=[t(f"review.col.{column}") for column in COLUMNS],
        datatype=["str"] * len(COLUMNS),
        interactive=False,
        wrap=True,
        column_widths=["11%", "13%", "8%", "11%", "28%", "29%"],
        elem_id="review-findings",
        label=label("review.findings"),
    )
    w.review_ids = gr.State([])  # finding id of each table row
    w.review_chosen = gr.State(None)
    with gr.Row():
        w.review_fix = gr.Button(label("review.fix"), variant="primary", elem_id="review-fix")
        w.review_dismiss = gr.Button(label("review.dismiss"), elem_id="review-dismiss")
    w.review_passage = gr.HTML(elem_id="review-passage")


# -- what shows a project ---------------------------------------------------------------------
def view_components(w) -> list:
    return [w.review_table, w.review_ids, w.review_chosen, w.review_passage, w.review_progress]


def view_of(studio: Studio, w, project: Project | None) -> dict:
    return {**_table(studio, w, project), w.review_progress: ""}


def _table(studio: Studio, w, project: Project | None) -> dict:
    """The open findings, chapter by chapter in plan order (each row names its chapter)."""
    findings = stored_findings(studio.store, project) if project else []
    plan = studio.store.plan(project) if project else None
    rows = []
    for finding in findings:
        index = plan.position(finding.section_id)
        chapter = plan.chapter_of(index)
        rows.append(
            [
                chapter.title if chapter else "",
                f"{index + 1}. {plan.sections[index].title}",
                t(f"review.severity.{finding.severity}"),
                t(f"review.kind.{finding.kind}"),
                finding.quote,
                finding.suggestion,
            ]
        )
    return {
        w.review_table: {"headers": [t(f"review.col.{c}") for c in COLUMNS], "data": rows},
        w.review_ids: [f.id for f in findings],
        w.review_chosen: None,
        w.review_passage: "",
    }


def passage_html(text: str, quote: str) -> str:
    """The section's text, escaped, its first occurrence of the quote marked."""
    start = text.find(quote)
    if start < 0:
        return f"<div class='lw-review-text'>{html.escape(text)}</div>"
    before, marked, after = (
        text[:start],
        text[start : start + len(quote)],
        text[start + len(quote) :],
    )
    body = f"{html.escape(before)}<mark>{html.escape(marked)}</mark>{html.escape(after)}"
    return f"<div class='lw-review-text'>{body}</div>"


def _section_text(studio: Studio, project: Project, section_id: str) -> str:
    current = {s.section_id: s for s in studio.store.sections(project)}.get(section_id)
    return current.text if current else ""


# -- handlers ---------------------------------------------------------------------------------
def review(studio: Studio, w, project_id, with_model) -> Iterator[dict]:
    """Run the read-through; with the model, its checks follow as a queued generation."""
    project = studio.project(project_id)
    if not with_model:
        finished = list(review_project(studio.store, project))[-1]
        yield {**_table(studio, w, project), w.review_progress: _summary(finished)}
        return
    yield from _follow(
        studio,
        w,
        project,
        lambda store, backend: review_project(store, store.project_by_id(project.id), backend),
    )


def later(studio: Studio, w, project_id, with_model) -> Iterator[dict]:
    """Check the sections after each bible entry, recap or section edited since the review."""
    project = studio.project(project_id)
    changes = changes_since_review(studio.store, project)
    if not changes:
        yield {w.review_progress: t("review.no_changes")}
        return
    what = "; ".join(change.what for change in changes)
    if not with_model:
        finished = list(check_later(studio.store, project, changes))[-1]
        yield {
            **_table(studio, w, project),
            w.review_progress: t("review.later_done", what=what, count=finished.rules_findings),
        }
        return
    yield from _follow(
        studio,
        w,
        project,
        lambda store, backend: check_later(
            store, store.project_by_id(project.id), changes, backend
        ),
        what,
    )


def _follow(studio: Studio, w, project: Project, start, what: str = "") -> Iterator[dict]:
    finished = None
    line = t("write.waiting")
    for batch in studio.follow(project, start):
        for event in batch:
            if isinstance(event, ReviewProgress):
                line = t(
                    "review.reading", number=event.done + 1, count=event.count, title=event.title
                )
            elif isinstance(event, ReviewFinished):
                finished = event
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Ended) and event.stopped:
                line = t("review.stopped")
        yield {w.review_progress: line}
    if finished is None:
        yield {**_table(studio, w, project), w.review_progress: line}
        return
    summary = t("review.later_done", what=what, count=finished.rules_findings) if what else ""
    yield {
        **_table(studio, w, project),
        w.review_progress: f"{summary} {_summary(finished)}".strip(),
    }


def _summary(finished: ReviewFinished) -> str:
    line = t("review.done", count=len(finished.findings))
    if finished.model_read or finished.model_skipped:
        line += " " + t(
            "review.model_done",
            read=finished.model_read,
            skipped=finished.model_skipped,
            dropped=finished.dropped,
        )
    return line


def choose(studio: Studio, w, project_id, ids, event: gr.SelectData) -> dict:
    """A finding clicked: its section, the passage marked."""
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if project_id is None or not isinstance(row, int) or not 0 <= row < len(ids or []):
        return {w.review_chosen: None, w.review_passage: ""}
    project = studio.project(project_id)
    finding = finding_by_id(studio.store, project, ids[row])
    text = _section_text(studio, project, finding.section_id)
    return {w.review_chosen: finding.id, w.review_passage: passage_html(text, finding.quote)}


def _chosen(studio: Studio, project_id, finding_id) -> tuple[Project, Finding]:
    project = studio.project(project_id)
    if finding_id is None:
        raise UserError(key="error.choose_finding")
    return project, finding_by_id(studio.store, project, int(finding_id))


def dismiss(studio: Studio, w, project_id, finding_id) -> dict:
    project, finding = _chosen(studio, project_id, finding_id)
    set_state(studio.store, project, finding.id, "dismissed")
    info("review.dismissed")
    return _table(studio, w, project)


def fix(studio: Studio, w, project_id, finding_id) -> Iterator[dict]:
    """Rewrite the finding's passage with its suggestion as the instruction, in the Write tab's
    section tools, which show the difference with Accept and Discard."""
    project, finding = _chosen(studio, project_id, finding_id)
    text = _section_text(studio, project, finding.section_id)
    start = text.find(finding.quote)
    if start < 0:
        raise UserError(key="error.finding_gone")
    instruction = t("review.fix_instruction", suggestion=finding.suggestion)
    yield {
        w.tabs: gr.update(selected="write-tab"),
        w.section_tools_box: gr.update(open=True),
        w.section: gr.update(value=finding.section_id),
        w.revise_instruction: instruction,
    }
    selection = [start, start + len(finding.quote)]
    yield from section_tools.rewrite(
        studio, w, project.id, finding.section_id, instruction, "", "", selection
    )


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w, demo: gr.Blocks) -> None:
    for button, handler in ((w.review_run, review), (w.review_later, later)):
        button.click(studio.arm, [w.project_id], None, **INSTANT).then(
            user_errors_stream(functools.partial(handler, studio, w)),
            [w.project_id, w.review_model],
            [*view_components(w)],
            show_progress_on=[w.review_progress],
            **GENERATING,
        )

    def chosen(project_id, ids, event: gr.SelectData):
        return user_errors(choose)(studio, w, project_id, ids, event)

    w.review_table.select(
        chosen, [w.project_id, w.review_ids], [w.review_chosen, w.review_passage], **INSTANT
    )
    w.review_dismiss.click(
        user_errors(functools.partial(dismiss, studio, w)),
        [w.project_id, w.review_chosen],
        [*view_components(w)[:4]],
        **INSTANT,
    )
    w.review_fix.click(studio.arm, [w.project_id], None, **INSTANT).then(
        user_errors_stream(functools.partial(fix, studio, w)),
        [w.project_id, w.review_chosen],
        [
            w.tabs,
            w.section_tools_box,
            w.section,
            w.revise_instruction,
            w.active_heading,
            w.active,
            w.progress,
            w.revise_box,
            w.revise_summary,
            w.revise_diff,
            w.proposal,
            w.history,
        ],
        show_progress_on=[w.progress],
        **GENERATING,
    )
