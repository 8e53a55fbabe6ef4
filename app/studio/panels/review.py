"""The Review tab: the read-through's findings grouped by chapter. Click one to see its section
with the passage marked; Fix this turns it into a rewrite of that passage through the section
tools' rewrite-and-diff flow (Shared.rewrite); Dismiss hides it. Check later chapters reviews
the sections after what was edited since the last review.

The deterministic checks run in the handler (seconds); with "Ask the model too" the model's
checks run as a generation like any other (queued, stoppable, resumable). Every run, and Fix
this, applies to the project it was pressed on (service.pressing).
"""

import functools
import html
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from app.studio import service
from app.studio.events import INSTANT, user_errors
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import info, label, t
from app.studio.state import Studio
from engine.errors import UserError
from engine.review.findings import Finding, finding_by_id, set_state, stored_findings
from engine.review.later import changes_since_review, check_later
from engine.review.run import ReviewFinished, ReviewProgress, review_project
from engine.store.database import Project
from engine.writing.events import Ended, Failed

COLUMNS = ("chapter", "section", "severity", "kind", "quote", "suggestion")


@dataclass
class ReviewWidgets(NoRefreshAfterRun):
    """The Review tab: its buttons, the findings table (with each row's finding id), the
    finding chosen and its passage.

    `chosen` is a hidden field, not a gr.State: its value travels with a press, so a queued
    Fix this rewrites the finding chosen when it was pressed."""

    run: gr.Button
    with_model: gr.Checkbox
    later: gr.Button
    progress: gr.Markdown
    table: gr.Dataframe
    ids: gr.State
    chosen: gr.Textbox
    fix: gr.Button
    dismiss: gr.Button
    passage: gr.HTML

    def view_components(self) -> list[Component]:
        return [*self.table_components(), self.progress]

    def table_components(self) -> list[Component]:
        return [self.table, self.ids, self.chosen, self.passage]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return {**_table(studio, self, project), self.progress: ""}

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared)


def layout() -> ReviewWidgets:
    with gr.Row():
        run = gr.Button(label("review.run"), variant="primary", elem_id="review-run")
        with_model = gr.Checkbox(label=label("review.with_model"), elem_id="review-model")
        later = gr.Button(label("review.later"), elem_id="review-later")
    progress = gr.Markdown(elem_id="review-progress")
    table = gr.Dataframe(
        headers=[t(f"review.col.{column}") for column in COLUMNS],
        datatype=["str"] * len(COLUMNS),
        interactive=False,
        wrap=True,
        column_widths=["11%", "13%", "8%", "11%", "28%", "29%"],
        elem_id="review-findings",
        label=label("review.findings"),
    )
    ids = gr.State([])  # finding id of each table row
    chosen = gr.Textbox("", visible="hidden", elem_id="review-chosen")
    with gr.Row():
        fix = gr.Button(label("review.fix"), variant="primary", elem_id="review-fix")
        dismiss = gr.Button(label("review.dismiss"), elem_id="review-dismiss")
    passage = gr.HTML(elem_id="review-passage")
    return ReviewWidgets(
        run, with_model, later, progress, table, ids, chosen, fix, dismiss, passage
    )


# -- what shows a project ---------------------------------------------------------------------
def _table(
    studio: Studio, w: ReviewWidgets, project: Project | None, keep_choice: bool = False
) -> dict:
    """The open findings, chapter by chapter in plan order (each row names its chapter); the
    finding chosen is put away unless `keep_choice` (a review's end: `chosen_again` follows)."""
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
    table = {
        w.table: {"headers": [t(f"review.col.{c}") for c in COLUMNS], "data": rows},
        w.ids: [f.id for f in findings],
    }
    return table if keep_choice else {**table, w.chosen: "", w.passage: ""}


def chosen_again(studio: Studio, w: ReviewWidgets, project_id, finding_id) -> dict:
    """After a review: the finding the writer clicked while it ran stays chosen if it is still
    open, or the new finding of the same kind on the same passage is chosen in its place;
    else the choice is put away."""
    if project_id is None or not str(finding_id or "").strip():
        return {}
    project = studio.project(project_id)
    try:
        before = finding_by_id(studio.store, project, int(finding_id))
    except UserError:
        return {w.chosen: "", w.passage: ""}

    def where(f: Finding) -> tuple:
        return f.section_id, f.kind, f.quote

    open_now = stored_findings(studio.store, project)
    same = [f for f in open_now if f.id == before.id] or [
        f for f in open_now if where(f) == where(before)
    ]
    if not same:
        return {w.chosen: "", w.passage: ""}
    finding = same[0]
    text = _section_text(studio, project, finding.section_id)
    return {w.chosen: str(finding.id), w.passage: passage_html(text, finding.quote)}


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
def review(studio: Studio, w: ReviewWidgets, target, with_model) -> Iterator[dict]:
    """Run the read-through of the project pressed on (`target`); with the model, its checks
    follow as a generation."""
    project, page = service.pressed_project(studio, target)
    if not with_model:
        finished = list(review_project(studio.store, project))[-1]
        yield {**_table(studio, w, project, True), w.progress: _summary(finished)}
        return
    yield from _follow(
        studio,
        w,
        project,
        lambda store, backend: review_project(store, store.project_by_id(project.id), backend),
        page,
    )


def later(studio: Studio, w: ReviewWidgets, target, with_model) -> Iterator[dict]:
    """Check the sections after each bible entry, recap or section edited since the review."""
    project, page = service.pressed_project(studio, target)
    changes = changes_since_review(studio.store, project)
    if not changes:
        yield {w.progress: t("review.no_changes")}
        return
    what = "; ".join(change.what for change in changes)
    if not with_model:
        finished = list(check_later(studio.store, project, changes))[-1]
        yield {
            **_table(studio, w, project, True),
            w.progress: t("review.later_done", what=what, count=finished.rules_findings),
        }
        return
    yield from _follow(
        studio,
        w,
        project,
        lambda store, backend: check_later(
            store, store.project_by_id(project.id), changes, backend
        ),
        page,
        what,
    )


def _follow(
    studio: Studio, w: ReviewWidgets, project: Project, start, page: str, what: str = ""
) -> Iterator[dict]:
    finished = None
    line = t("write.waiting")
    for batch in studio.follow(project, start, page):
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
        yield {w.progress: line}
    if finished is None:
        yield {**_table(studio, w, project, True), w.progress: line}
        return
    summary = t("review.later_done", what=what, count=finished.rules_findings) if what else ""
    yield {
        **_table(studio, w, project, True),
        w.progress: f"{summary} {_summary(finished)}".strip(),
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


def choose(studio: Studio, w: ReviewWidgets, project_id, ids, event: gr.SelectData) -> dict:
    """A finding clicked: its section, the passage marked."""
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if project_id is None or not isinstance(row, int) or not 0 <= row < len(ids or []):
        return {w.chosen: "", w.passage: ""}
    project = studio.project(project_id)
    finding = finding_by_id(studio.store, project, ids[row])
    text = _section_text(studio, project, finding.section_id)
    return {w.chosen: str(finding.id), w.passage: passage_html(text, finding.quote)}


def _chosen(studio: Studio, project: Project, finding_id) -> Finding:
    if finding_id is None or str(finding_id).strip() == "":
        raise UserError(key="error.choose_finding")
    return finding_by_id(studio.store, project, int(finding_id))


def dismiss(studio: Studio, w: ReviewWidgets, project_id, finding_id) -> dict:
    project = studio.project(project_id)
    finding = _chosen(studio, project, finding_id)
    set_state(studio.store, project, finding.id, "dismissed")
    info("review.dismissed")
    return _table(studio, w, project)


def fix(studio: Studio, shared: Shared, target, finding_id) -> Iterator[dict]:
    """Rewrite the finding's passage, in the project pressed on (`target`), with its suggestion
    as the instruction, in the Write tab's section tools (Shared.rewrite), which show the
    difference with Accept and Discard."""
    project, _ = service.pressed_project(studio, target)
    finding = _chosen(studio, project, finding_id)
    text = _section_text(studio, project, finding.section_id)
    start = text.find(finding.quote)
    if start < 0:
        raise UserError(key="error.finding_gone")
    instruction = t("review.fix_instruction", suggestion=finding.suggestion)
    flow = shared.rewrite
    yield {
        shared.tabs: gr.update(selected="write-tab"),
        flow.tools: gr.update(open=True),
        flow.section: gr.update(value=finding.section_id),
        flow.instruction: instruction,
    }
    selection = [start, start + len(finding.quote)]
    yield from flow.stream(studio, shared.run, target, finding.section_id, instruction, selection)


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: ReviewWidgets, shared: Shared) -> None:
    project_id = shared.open.project_id
    for button, handler in ((w.run, review), (w.later, later)):
        service.pressing(
            studio,
            shared,
            button.click,
            "review",
            w.progress,
            fn=functools.partial(handler, studio, w),
            inputs=[w.with_model],
            outputs=w.view_components(),
            show_progress_on=[w.progress],
        ).then(
            user_errors(functools.partial(chosen_again, studio, w)),
            [project_id, w.chosen],
            [w.chosen, w.passage],
            **INSTANT,
        )

    def chosen(project_id, ids, event: gr.SelectData):
        return user_errors(choose)(studio, w, project_id, ids, event)

    w.table.select(chosen, [project_id, w.ids], [w.chosen, w.passage], **INSTANT)
    w.dismiss.click(
        user_errors(functools.partial(dismiss, studio, w)),
        [project_id, w.chosen],
        w.table_components(),
        **INSTANT,
    )
    service.pressing(
        studio,
        shared,
        w.fix.click,
        "rewrite",
        w.progress,
        fn=functools.partial(fix, studio, shared),
        inputs=[w.chosen],
        outputs=[
            w.progress,
            shared.tabs,
            *shared.rewrite.components(),
            *shared.run.components(),
        ],
        show_progress_on=[shared.run.progress],
    )
