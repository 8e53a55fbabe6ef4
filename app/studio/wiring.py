"""Which handler each control of the studio's screen calls, and how Gradio runs it.

Generating events (plan drafts, writing, rewrites) share one concurrency group of size one: a
single model instance serves them in turn and Gradio shows the queue position. Everything else
runs at once, outside the queue. A UserError from any handler becomes a one-line error box.
"""

import functools
from collections.abc import Callable

import gradio as gr

from app.studio.handlers import Studio
from app.studio.plan_table import add_row, delete_row, move_row, toggle_lock
from engine.errors import UserError

GENERATING = {"concurrency_id": "model", "concurrency_limit": 1}
INSTANT = {"queue": False, "show_progress": "hidden"}


def user_errors(handler: Callable) -> Callable:
    """Show a UserError as a one-line error box instead of a traceback."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except UserError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


def user_errors_stream(handler: Callable) -> Callable:
    """user_errors for generator handlers."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            yield from handler(*args, **kwargs)
        except UserError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


def wire(studio: Studio, w, demo: gr.Blocks) -> None:
    """Connect every control of the screen `w` to its handler."""
    view = [
        w.project_id,
        w.last_project,
        w.title,
        w.instruction,
        w.bible,
        w.total,
        w.single,
        w.plan,
        w.plan_total,
        w.versions,
        w.document,
        w.active_heading,
        w.active,
        w.progress,
        w.section,
        w.section_text,
        w.history,
        w.length_summary,
        w.length,
        w.quality,
        w.rename_to,
        w.project_list,
        *w.exports.values(),
    ]
    brief = [w.project_id, w.instruction, w.bible, w.total, w.single]
    stream = [w.document, w.active_heading, w.active, w.progress]
    after = [w.project_list, w.section, w.length_summary, w.length, *w.exports.values()]
    plan_out = [w.plan, w.plan_total, w.versions]

    # projects
    demo.load(lambda last: studio.on_load(w, last), [w.last_project], view)
    w.create.click(
        user_errors(lambda name, total: studio.create(w, name, total)),
        [w.new_name, w.total],
        [*view, w.new_name],
        **INSTANT,
    )

    def open_selected(event: gr.SelectData) -> dict:
        try:
            return studio.open_selected(w, event)
        except UserError as error:
            raise gr.Error(str(error), print_exception=False) from None

    w.project_list.select(open_selected, None, view, **INSTANT)
    w.rename.click(
        user_errors(lambda pid, name: studio.rename(w, pid, name)),
        [w.project_id, w.rename_to],
        view,
        **INSTANT,
    )
    w.duplicate.click(
        user_errors(lambda pid: studio.duplicate(w, pid)), [w.project_id], view, **INSTANT
    )
    w.delete.click(
        user_errors(studio.ask_delete), [w.project_id], [w.delete_box, w.delete_note], **INSTANT
    )
    w.delete_cancel.click(lambda: gr.update(visible=False), None, [w.delete_box], **INSTANT)
    w.delete_confirm.click(
        user_errors(lambda pid: studio.delete(w, pid)),
        [w.project_id],
        [*view, w.delete_box],
        **INSTANT,
    )

    # brief
    w.instruction.blur(
        user_errors(studio.instruction_done), brief, [w.total, w.project_list], **INSTANT
    )
    for field in (w.bible, w.total, w.single):
        event = field.blur if field is w.bible else field.change
        event(user_errors(studio.brief_changed), brief, None, **INSTANT)

    # plan editor
    w.plan.change(studio.plan_total_line, [w.plan, w.total], [w.plan_total], **INSTANT)
    w.total.change(studio.plan_total_line, [w.plan, w.total], [w.plan_total], **INSTANT)
    w.plan.input(user_errors(studio.save_rows), [w.project_id, w.plan], [w.versions], **INSTANT)
    w.plan.select(studio.select_row, None, [w.row], **INSTANT)
    operations = {
        w.add_row: add_row,
        w.delete_row: delete_row,
        w.up: lambda rows, row: move_row(rows, row, -1),
        w.down: lambda rows, row: move_row(rows, row, +1),
        w.lock: toggle_lock,
    }
    for button, operation in operations.items():
        button.click(
            user_errors(functools.partial(studio.edit_rows, operation)),
            [w.project_id, w.plan, w.row, w.total],
            plan_out,
            **INSTANT,
        )
    w.rescale.click(
        user_errors(studio.rescale), [w.project_id, w.plan, w.total], plan_out, **INSTANT
    )
    w.restore_plan.click(
        user_errors(studio.restore_plan), [w.project_id, w.versions], plan_out, **INSTANT
    )
    w.draft.click(studio.arm, [w.project_id], [w.plan_stream], **INSTANT).then(
        user_errors_stream(studio.draft),
        [*brief, w.plan],
        [w.plan_stream, *plan_out],
        show_progress_on=[w.plan_stream],
        **GENERATING,
    )

    # writing
    for button, resume in ((w.write, False), (w.resume, True)):
        button.click(studio.arm, [w.project_id], [w.progress], **INSTANT).then(
            user_errors_stream(functools.partial(studio.write, w, resume)),
            [*brief, w.plan],
            stream,
            show_progress_on=[w.progress],
            **GENERATING,
        ).then(user_errors(studio.after_run), [w.project_id], after, **INSTANT)
    w.stop.click(studio.stop, [w.project_id], None, **INSTANT)
    w.start_over.click(
        user_errors(lambda pid: studio.start_over(w, pid)), [w.project_id], view, **INSTANT
    )

    # one section
    w.section.change(
        user_errors(studio.show_section),
        [w.project_id, w.section],
        [w.section_text, w.history],
        **INSTANT,
    )
    w.save_section.click(
        user_errors(studio.save_section_text),
        [w.project_id, w.section, w.section_text],
        [w.document, w.history],
        **INSTANT,
    ).then(user_errors(studio.after_run), [w.project_id], after, **INSTANT)
    w.restore_section.click(
        user_errors(studio.restore_section),
        [w.project_id, w.section, w.history],
        [w.document, w.section_text],
        **INSTANT,
    ).then(user_errors(studio.after_run), [w.project_id], after, **INSTANT)
    w.regenerate.click(studio.arm, [w.project_id], [w.progress], **INSTANT).then(
        user_errors_stream(functools.partial(studio.rewrite, w, None)),
        [w.project_id, w.section, w.extend_words],
        stream,
        show_progress_on=[w.progress],
        **GENERATING,
    ).then(user_errors(studio.after_run), [w.project_id], after, **INSTANT)
    w.extend.click(studio.arm, [w.project_id], [w.progress], **INSTANT).then(
        user_errors_stream(functools.partial(studio.rewrite, w, "extend")),
        [w.project_id, w.section, w.extend_words],
        stream,
        show_progress_on=[w.progress],
        **GENERATING,
    ).then(user_errors(studio.after_run), [w.project_id], after, **INSTANT)

    # length and model
    w.score.click(
        user_errors(studio.score),
        [w.project_id],
        [w.length_summary, w.length, w.quality],
        **INSTANT,
    )
    w.model_select.change(
        studio.model_fields, [w.model_select], [w.model_path, w.base_url, w.model_name], **INSTANT
    )
    w.use_model.click(
        user_errors(studio.use_model),
        [w.model_select, w.model_path, w.base_url, w.model_name],
        [w.model_info],
    )
