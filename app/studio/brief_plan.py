"""The Brief and Plan tabs: instruction, story bible and length; the plan editor and drafting.

Every edit is saved as it happens (the brief on blur, the plan as a new plan version), so
nothing typed is lost when the page closes.
"""

import functools
from collections.abc import Iterator

import gradio as gr

from app.studio.events import GENERATING, INSTANT, user_errors, user_errors_stream
from app.studio.jobs import Ended, Failed
from app.studio.language import info, label, t, warning
from app.studio.plan_table import (
    DATATYPES,
    add_row,
    delete_row,
    headers,
    move_row,
    plan_ids,
    plan_rows,
    rows_plan,
    table,
    toggle_lock,
    total_words,
)
from app.studio.state import Studio
from app.studio.view import components, project_view
from engine.errors import UserError
from engine.plan import (
    draft_plan_stream,
    merge_locked,
    plan_from_model_output,
    rescale,
    words_from_instruction,
)
from engine.projects import check_bible, check_brief, create_project, name_from_instruction
from engine.schema import Plan
from engine.store import Project


def brief_layout(w) -> None:
    w.instruction = gr.Textbox(
        label=label("brief.instruction"),
        placeholder=label("brief.instruction_placeholder"),
        lines=4,
        elem_id="instruction",
    )
    w.bible = gr.Textbox(
        label=label("brief.bible"),
        lines=6,
        elem_id="bible",
    )
    with gr.Row():
        w.total = gr.Number(
            label=label("brief.total"), value=1000, precision=0, minimum=1, elem_id="total-words"
        )
        w.single = gr.Checkbox(label=label("brief.single"), elem_id="single-pass")
    # a hidden field, not a gr.State: the page's script must read it (states stay on the server)
    w.suggested_total = gr.Number(None, visible=False, elem_id="suggested-total")
    w.brief_draft = gr.Button(label("brief.draft"), variant="primary", elem_id="brief-draft")


def plan_layout(w) -> None:
    with gr.Row():
        w.draft = gr.Button(label("plan.draft"), variant="primary", elem_id="draft-plan")
        w.rescale = gr.Button(label("plan.rescale"), elem_id="rescale")
    w.plan_stream = gr.Textbox(
        label=label("plan.stream"),
        lines=3,
        max_lines=6,
        interactive=False,
        elem_id="plan-stream",
    )
    w.plan_ids = gr.State([])
    w.plan = gr.Dataframe(
        headers=headers(),
        datatype=DATATYPES,
        column_count=len(DATATYPES),
        type="array",
        interactive=True,
        show_row_numbers=True,
        wrap=True,
        column_widths=["22%", "58%", "10%", "10%"],
        elem_id="plan",
        label=label("plan.table"),
    )
    w.plan_total = gr.Markdown(elem_id="plan-total")
    with gr.Row():
        w.row = gr.Number(
            label=label("plan.row"), value=1, precision=0, minimum=1, elem_id="row-number", scale=1
        )
        w.add_row = gr.Button(label("plan.add_row"), elem_id="add-row", scale=1)
        w.delete_row = gr.Button(label("plan.delete_row"), elem_id="delete-row", scale=1)
        w.up = gr.Button(label("plan.up"), elem_id="move-up", scale=1)
        w.down = gr.Button(label("plan.down"), elem_id="move-down", scale=1)
        w.lock = gr.Button(label("plan.lock"), elem_id="lock-row", scale=1)
    with gr.Row():
        w.versions = gr.Dropdown(label=label("plan.versions"), elem_id="plan-versions", scale=3)
        w.restore_plan = gr.Button(label("plan.restore"), elem_id="restore-plan", scale=1)


# -- what shows a project ---------------------------------------------------------------------
def view_components(w) -> list:
    return [w.instruction, w.bible, w.total, w.single, *plan_outputs(w)]


def plan_outputs(w) -> list:
    return [w.plan, w.plan_ids, w.plan_total, w.versions]


def view_of(studio: Studio, w, project: Project | None) -> dict:
    if project is None:
        return {
            w.instruction: "",
            w.bible: "",
            w.total: 1000,
            w.single: False,
            **plan_view(studio, w, None, None),
        }
    return {
        w.instruction: project.instruction,
        w.bible: project.bible,
        w.total: project.target_words,
        w.single: project.settings.mode == "single",
        **plan_view(studio, w, project, studio.store.plan(project)),
    }


def plan_view(studio: Studio, w, project: Project | None, plan: Plan | None) -> dict:
    rows = plan_rows(plan)
    target = project.target_words if project else 0
    return {
        w.plan: table(rows),
        w.plan_ids: plan_ids(plan),
        w.plan_total: plan_total_line(rows, target),
        w.versions: versions_menu(studio, project),
    }


def versions_menu(studio: Studio, project: Project | None) -> dict:
    versions = studio.store.plan_versions(project) if project else []
    choices = [(f"v{n} · {created.replace('T', ' ')[:19]}", n) for n, created in reversed(versions)]
    return gr.update(choices=choices, value=choices[0][1] if choices else None)


def plan_total_line(rows: list[list], target: int | float | None) -> str:
    total = total_words(rows)
    target = int(target or 0)
    if not target or total == target:
        return t("plan.total", total=f"{total:,}")
    return t("plan.total_target", total=f"{total:,}", target=f"{target:,}")


# -- brief ------------------------------------------------------------------------------------
def save_brief(
    studio: Studio, project_id: int | None, instruction, bible, total, single
) -> Project | None:
    """Save the brief as typed; None when no project is open."""
    if project_id is None:
        return None
    project = studio.project(project_id)
    check_bible(bible or "")
    target = int(total or 0)
    if target <= 0:
        raise UserError(key="error.total_positive")
    settings = project.settings.model_copy(update={"mode": "single" if single else "agentwrite"})
    fields = {
        "instruction": instruction or "",
        "bible": bible or "",
        "target_words": target,
        "settings": settings,
    }
    current = {
        "instruction": project.instruction,
        "bible": project.bible,
        "target_words": project.target_words,
        "settings": project.settings,
    }
    if fields == current:
        return project
    return studio.store.update_project(project, **fields)


def save_field(studio: Studio, name: str, project_id, value) -> None:
    """One brief field lost focus or changed: save that field alone. Events of different fields
    run at once, so each writes only its own value and never undoes another's newer one."""
    if project_id is None:
        return
    project = studio.project(project_id)
    if name == "bible":
        check_bible(value or "")
        fields = {"bible": value or ""}
    elif name == "total":
        if int(value or 0) <= 0:
            raise UserError(key="error.total_positive")
        fields = {"target_words": int(value)}
    elif name == "single":
        mode = "single" if value else "agentwrite"
        fields = {"settings": project.settings.model_copy(update={"mode": mode})}
    else:
        fields = {"instruction": value or ""}
    if any(getattr(project, key) != value for key, value in fields.items()):
        studio.store.update_project(project, **fields)


def instruction_done(studio: Studio, w, project_id, instruction, total) -> dict:
    """Save the instruction; a new instruction that names a length suggests it as Total words,
    unless the writer already typed a total of their own. APPLY_SUGGESTED_TOTAL then decides in
    the page, where the writer's typing is visible, and Total words' change event saves what
    the field ends up holding, so the page and the database always agree."""
    if project_id is None:
        return {}
    project = studio.project(project_id)
    words = words_from_instruction(instruction or "")
    typed_own_total = int(total or 0) != project.target_words
    suggested = None
    if words and (instruction or "") != project.instruction and not typed_own_total:
        suggested = words
    save_field(studio, "instruction", project_id, instruction)
    return {w.suggested_total: suggested, w.project_list: studio.project_table()}


# The suggestion lands in the page only if the writer is not typing in Total words: their own
# value always wins (a server update arriving mid-typing would merge with their keystrokes).
APPLY_SUGGESTED_TOTAL = """(suggested, current) => {
  const typing = Boolean(document.activeElement?.closest('#total-words'));
  return (suggested === null || typing) ? current : suggested;
}"""


# -- plan editor ------------------------------------------------------------------------------
def _save_plan(studio: Studio, project: Project, plan: Plan) -> None:
    if studio.store.plan(project) != plan:
        studio.store.save_plan(project, plan)


def save_rows(studio: Studio, w, project_id: int | None, rows: list[list], ids: list) -> dict:
    """An edit in the table: saved as a new plan version."""
    project = studio.project(project_id)
    plan = rows_plan(rows, ids, studio.store.plan(project))
    _save_plan(studio, project, plan)
    return {w.plan_ids: plan.ids, w.versions: versions_menu(studio, project)}


def edit_rows(studio: Studio, w, operation, project_id, rows, ids, row, total) -> dict:
    """A row button (add, delete, move, lock): the rows and their ids move together."""
    project = studio.project(project_id)
    rows, ids = operation(rows or [], ids or [], row)
    if rows:
        _save_plan(studio, project, rows_plan(rows, ids, studio.store.plan(project)))
    return {
        w.plan: table(rows),
        w.plan_ids: ids,
        w.plan_total: plan_total_line(rows, total),
        w.versions: versions_menu(studio, project),
    }


def rescale_rows(studio: Studio, w, project_id, rows, ids, total) -> dict:
    project = studio.project(project_id)
    if not total or int(total) <= 0:
        raise UserError(key="error.rescale_total")
    plan = rescale(rows_plan(rows, ids, studio.store.plan(project)), int(total))
    _save_plan(studio, project, plan)
    return plan_view(studio, w, project, plan)


def restore_plan(studio: Studio, w, project_id, version) -> dict:
    project = studio.project(project_id)
    if version is None:
        raise UserError(key="error.choose_plan_version")
    plan = studio.store.plan(project, int(version))
    if plan is None:
        raise UserError(key="error.no_plan_version", version=version)
    _save_plan(studio, project, plan)
    info("plan.restored", version=version)
    return plan_view(studio, w, project, plan)


def project_for_draft(studio: Studio, w, project_id, instruction: str, total) -> dict:
    """The Brief tab's Draft plan: with no project open, a project named from the instruction
    is created first; either way the Plan tab shows, and the draft follows."""
    if project_id is not None:
        return {w.tabs: gr.update(selected="plan-tab")}
    instruction = (instruction or "").strip()
    if not instruction:
        raise UserError(key="error.describe_first")
    words = words_from_instruction(instruction) or int(total or 1000)
    name = studio.store.unique_name(name_from_instruction(instruction))
    project = create_project(studio.store, name, instruction, words)
    info("brief.created", name=project.name)
    return {**project_view(studio, w, project), w.tabs: gr.update(selected="plan-tab")}


def draft(studio: Studio, w, project_id, instruction, bible, total, single) -> Iterator[dict]:
    """Stream a drafted plan; locked rows of the current plan keep their places."""
    project = save_brief(studio, project_id, instruction, bible, total, single)
    if project is None:
        raise UserError(key="error.open_project")
    check_brief(project.instruction, project.bible, project.target_words)
    previous = studio.store.plan(project)
    raw = ""

    def start(store, backend):
        return draft_plan_stream(backend, project.instruction, project.target_words, project.bible)

    for batch in studio.follow(project, start):
        for event in batch:
            if isinstance(event, str):
                raw += event
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Ended) and event.stopped:
                warning("plan.draft_stopped")
                return
        yield {w.plan_stream: raw}
    plan = rescale(plan_from_model_output(raw, project.target_words), project.target_words)
    if previous is not None and any(s.locked for s in previous.sections):
        plan = rescale(merge_locked(previous, plan), project.target_words)
    _save_plan(studio, project, plan)
    info("plan.drafted", count=len(plan.sections))
    yield {w.plan_stream: raw, **plan_view(studio, w, project, plan)}


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w, demo: gr.Blocks) -> None:
    brief = [w.project_id, w.instruction, w.bible, w.total, w.single]
    w.instruction.blur(
        user_errors(functools.partial(instruction_done, studio, w)),
        [w.project_id, w.instruction, w.total],
        [w.suggested_total, w.project_list],
        **INSTANT,
    ).then(None, [w.suggested_total, w.total], [w.total], js=APPLY_SUGGESTED_TOTAL)
    for name, event in (
        ("bible", w.bible.blur),
        ("total", w.total.change),
        ("single", w.single.change),
    ):
        component = getattr(w, name)
        event(
            user_errors(functools.partial(save_field, studio, name)),
            [w.project_id, component],
            None,
            **INSTANT,
        )

    w.plan.change(plan_total_line, [w.plan, w.total], [w.plan_total], **INSTANT)
    w.total.change(plan_total_line, [w.plan, w.total], [w.plan_total], **INSTANT)
    w.plan.input(
        user_errors(functools.partial(save_rows, studio, w)),
        [w.project_id, w.plan, w.plan_ids],
        [w.plan_ids, w.versions],
        **INSTANT,
    )

    def select_row(event: gr.SelectData):
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        return row + 1 if isinstance(row, int) else gr.skip()

    w.plan.select(select_row, None, [w.row], **INSTANT)
    operations = {
        w.add_row: add_row,
        w.delete_row: delete_row,
        w.up: lambda rows, ids, row: move_row(rows, ids, row, -1),
        w.down: lambda rows, ids, row: move_row(rows, ids, row, +1),
        w.lock: toggle_lock,
    }
    for button, operation in operations.items():
        button.click(
            user_errors(functools.partial(edit_rows, studio, w, operation)),
            [w.project_id, w.plan, w.plan_ids, w.row, w.total],
            plan_outputs(w),
            **INSTANT,
        )
    w.rescale.click(
        user_errors(functools.partial(rescale_rows, studio, w)),
        [w.project_id, w.plan, w.plan_ids, w.total],
        plan_outputs(w),
        **INSTANT,
    )
    w.restore_plan.click(
        user_errors(functools.partial(restore_plan, studio, w)),
        [w.project_id, w.versions],
        plan_outputs(w),
        **INSTANT,
    )
    drafting = {
        "fn": user_errors_stream(functools.partial(draft, studio, w)),
        "inputs": brief,
        "outputs": [w.plan_stream, *plan_outputs(w)],
        "show_progress_on": [w.plan_stream],
        **GENERATING,
    }
    w.draft.click(studio.arm, [w.project_id], None, **INSTANT).then(**drafting)
    # the Brief tab's own Draft plan: a project from the instruction if none is open
    w.brief_draft.click(
        user_errors(functools.partial(project_for_draft, studio, w)),
        [w.project_id, w.instruction, w.total],
        [*components(w), w.tabs],
        **INSTANT,
    ).success(studio.arm, [w.project_id], None, **INSTANT).then(**drafting)
