"""The Plan tab: the plan editor, drafting (from this tab and from the Brief's Draft plan)
and the tab's Write button.

Every edit is saved as it happens (the plan as a new plan version), so nothing typed is lost
when the page closes. Drafting reads the brief as typed (Shared.brief) and saves it first. A
piece over 8,000 words is planned in two levels: a chapters table, and the scenes of the
chapter picked below it in the rows table.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from app.studio import chapter_table, service
from app.studio.chapter_table import add_chapter, chapter_choices, chapter_rows, chapters_plan
from app.studio.events import INSTANT, user_errors
from app.studio.feature import NoRefreshAfterRun, Shared
from app.studio.language import current as current_language
from app.studio.language import info, label, t, warning
from app.studio.menus import FOLLOWING, chosen_number, menu_now
from app.studio.plan_table import (
    DATATYPES,
    add_row,
    delete_row,
    headers,
    move_row,
    plan_ids,
    plan_rows,
    rows_plan,
    scenes_plan,
    table,
    toggle_lock,
    total_words,
)
from app.studio.state import Studio
from app.studio.target import Target
from engine.errors import UserError
from engine.planning.book_plan import (
    chapters_from_model_output,
    draft_chapters_stream,
    draft_scenes,
    two_level,
)
from engine.planning.plan import (
    draft_plan_stream,
    merge_locked,
    plan_from_model_output,
    rescale,
    words_from_instruction,
)
from engine.projects import service as projects
from engine.projects.service import check_brief, create_project, name_from_instruction
from engine.projects.stale import check_current
from engine.schema import Plan
from engine.store.database import Project, Versions
from engine.writing.events import ChapterPlanning, Ended, Failed
from engine.writing.prompt_layout import Brief


@dataclass
class PlanWidgets(NoRefreshAfterRun):
    """The Plan tab: Draft plan, the chapters table (two-level plans), the rows table with its
    row buttons, plan versions, and the tab's last step, Write."""

    draft: gr.Button
    rescale: gr.Button
    scenes_up_front: gr.Checkbox
    plan_stream: gr.Textbox
    chapter_ids: gr.State
    chapters: gr.Dataframe
    chapter_row: gr.Number
    add_chapter: gr.Button
    delete_chapter: gr.Button
    chapter_up: gr.Button
    chapter_down: gr.Button
    lock_chapter: gr.Button
    chapter_pick: gr.Dropdown
    plan_ids: gr.State
    plan: gr.Dataframe
    plan_total: gr.Markdown
    row: gr.Number
    add_row: gr.Button
    delete_row: gr.Button
    up: gr.Button
    down: gr.Button
    lock: gr.Button
    versions: gr.Dropdown
    restore_plan: gr.Button
    chapters_box: gr.Group
    write: gr.Button
    menus_sent: gr.State  # the menus' choices last refreshed into the page

    def view_components(self) -> list[Component]:
        return [*plan_outputs(self), self.scenes_up_front, self.row, self.chapter_row]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        plan = studio.store.plan(project) if project else None
        # nothing chosen for the last project carries over to this one
        fresh = {self.scenes_up_front: False, self.row: 1, self.chapter_row: 1}
        return {**plan_view(studio, self, project, plan), **fresh}

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared)


def layout() -> PlanWidgets:
    with gr.Row():
        draft = gr.Button(label("plan.draft"), variant="primary", elem_id="draft-plan")
        rescale = gr.Button(label("plan.rescale"), elem_id="rescale")
        scenes_up_front = gr.Checkbox(
            label=label("plan.scenes_up_front"), elem_id="scenes-up-front"
        )
    plan_stream = gr.Textbox(
        label=label("plan.stream"),
        lines=3,
        max_lines=6,
        interactive=False,
        elem_id="plan-stream",
    )
    with gr.Group(visible=False, elem_id="chapters-box") as chapters_box:
        chapter_ids = gr.State([])
        chapters = gr.Dataframe(
            headers=chapter_table.headers(),
            datatype=chapter_table.DATATYPES,
            column_count=len(chapter_table.DATATYPES),
            type="array",
            interactive=True,
            show_row_numbers=True,
            wrap=True,
            column_widths=["22%", "58%", "10%", "10%"],
            elem_id="chapters",
            label=label("chapters.table"),
        )
        with gr.Row():
            chapter_row = gr.Number(
                label=label("chapters.row"),
                value=1,
                precision=0,
                minimum=1,
                elem_id="chapter-number",
                scale=1,
            )
            add_chapter = gr.Button(label("chapters.add"), elem_id="add-chapter", scale=1)
            delete_chapter = gr.Button(label("chapters.delete"), elem_id="delete-chapter", scale=1)
            chapter_up = gr.Button(label("plan.up"), elem_id="chapter-up", scale=1)
            chapter_down = gr.Button(label("plan.down"), elem_id="chapter-down", scale=1)
            lock_chapter = gr.Button(label("plan.lock"), elem_id="lock-chapter", scale=1)
        chapter_pick = gr.Dropdown(
            label=label("chapters.pick"), elem_id="chapter-pick", **FOLLOWING
        )
    plan_ids = gr.State([])
    plan = gr.Dataframe(
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
    plan_total = gr.Markdown(elem_id="plan-total")
    with gr.Row():
        row = gr.Number(
            label=label("plan.row"), value=1, precision=0, minimum=1, elem_id="row-number", scale=1
        )
        add_row = gr.Button(label("plan.add_row"), elem_id="add-row", scale=1)
        delete_row = gr.Button(label("plan.delete_row"), elem_id="delete-row", scale=1)
        up = gr.Button(label("plan.up"), elem_id="move-up", scale=1)
        down = gr.Button(label("plan.down"), elem_id="move-down", scale=1)
        lock = gr.Button(label("plan.lock"), elem_id="lock-row", scale=1)
    with gr.Row():
        versions = gr.Dropdown(
            label=label("plan.versions"), elem_id="plan-versions", scale=3, **FOLLOWING
        )
        restore_plan = gr.Button(label("plan.restore"), elem_id="restore-plan", scale=1)
    write = gr.Button(label("write.write"), variant="primary", elem_id="plan-write")
    menus_sent = gr.State(None)
    return PlanWidgets(
        draft=draft,
        rescale=rescale,
        scenes_up_front=scenes_up_front,
        plan_stream=plan_stream,
        chapter_ids=chapter_ids,
        chapters=chapters,
        chapter_row=chapter_row,
        add_chapter=add_chapter,
        delete_chapter=delete_chapter,
        chapter_up=chapter_up,
        chapter_down=chapter_down,
        lock_chapter=lock_chapter,
        chapter_pick=chapter_pick,
        plan_ids=plan_ids,
        plan=plan,
        plan_total=plan_total,
        row=row,
        add_row=add_row,
        delete_row=delete_row,
        up=up,
        down=down,
        lock=lock,
        versions=versions,
        restore_plan=restore_plan,
        chapters_box=chapters_box,
        write=write,
        menus_sent=menus_sent,
    )


# -- what shows a project ---------------------------------------------------------------------
def plan_outputs(w: PlanWidgets) -> list[Component]:
    return [
        w.plan,
        w.plan_ids,
        w.plan_total,
        w.versions,
        w.chapters_box,
        w.chapters,
        w.chapter_ids,
        w.chapter_pick,
    ]


def plan_view(
    studio: Studio,
    w: PlanWidgets,
    project: Project | None,
    plan: Plan | None,
    chapter: str | None = None,
) -> dict:
    """The plan editor showing `plan`; a two-level plan shows the scenes of `chapter` (the
    first chapter when that is not one of the plan's)."""
    book = plan is not None and plan.two_level
    ids = chapter_table.chapter_ids(plan) if book else []
    chapter = (chapter if chapter in ids else ids[0]) if ids else None
    rows = plan_rows(plan, chapter)
    target = project.target_words if project else 0
    return {
        w.plan: table(rows),
        w.plan_ids: plan_ids(plan, chapter),
        w.plan_total: plan_total_line(chapter_rows(plan) if book else rows, target),
        w.versions: versions_menu(studio, project),
        w.chapters_box: gr.update(visible=book),
        w.chapters: chapter_table.table(chapter_rows(plan) if book else []),
        w.chapter_ids: ids,
        w.chapter_pick: gr.update(choices=chapter_choices(plan), value=chapter),
    }


def versions_menu(studio: Studio, project: Project | None) -> dict:
    choices = version_choices(studio, project)
    return gr.update(choices=choices, value=choices[0][1] if choices else None)


def version_choices(studio: Studio, project: Project | None) -> list[tuple[str, int]]:
    versions = studio.store.plan_versions(project) if project else []
    return [(f"v{n} · {created.replace('T', ' ')[:19]}", n) for n, created in reversed(versions)]


def menus_now(studio: Studio, project_id, chapter, version, sent) -> tuple:
    """On the page's refresh: the chapter picker and the plan's versions as other tabs left
    them (the writer's choices stay). A project deleted meanwhile changes nothing here."""
    sent = sent or {}
    try:
        project = studio.project(project_id)
    except UserError:
        return gr.skip(), gr.skip(), sent
    plan = studio.store.plan(project)
    chapters, sent_chapters = menu_now(chapter_choices(plan), sent.get("chapters"), chapter)
    versions, sent_versions = menu_now(
        version_choices(studio, project), sent.get("versions"), version
    )
    return chapters, versions, {"chapters": sent_chapters, "versions": sent_versions}


def live_total(rows: list[list], chapters: list[list] | None, target) -> str:
    """The total under the tables as the writer types: the chapters' words in a two-level
    plan, the rows' words in a flat one."""
    return plan_total_line(chapters or rows, target)


def plan_total_line(rows: list[list], target: int | float | None) -> str:
    total = total_words(rows)
    target = int(target or 0)
    if not target or total == target:
        return t("plan.total", total=f"{total:,}")
    return t("plan.total_target", total=f"{total:,}", target=f"{target:,}")


# -- plan editor ------------------------------------------------------------------------------
def _save_plan(studio: Studio, project: Project, plan: Plan, page: str) -> None:
    """Save an edit of `page`, refused when the plan changed since the page showed it."""
    if studio.store.plan(project) != plan:
        service.checked(
            studio,
            page,
            project,
            lambda based_on: projects.save_plan(studio.store, project, plan, based_on),
            plan=True,
        )


def _save_drafted(
    studio: Studio, project: Project, plan: Plan, based_on: Versions | None, page: str
) -> Versions | None:
    """Save a drafted plan (or a drafted step of one) of a press based on `based_on`, refused
    when the brief or the plan changed since; returns the basis moved on by it."""
    store = studio.store
    with store.transaction():
        projects.save_drafted_plan(store, project, plan, based_on)
        after = store.versions(project)
    service.wrote(studio, page, project, after, plan=True)
    return service.advanced(based_on, after, plan=True)


def _shown_plan(studio: Studio, project: Project, rows, ids, chapter) -> Plan:
    """The plan with the rows table as shown: the whole flat plan, or one chapter's scenes."""
    previous = studio.store.plan(project)
    if previous is not None and previous.two_level:
        if chapter not in {c.id for c in previous.chapters}:
            raise UserError(key="error.choose_chapter")
        return scenes_plan(rows or [], ids, previous, chapter)
    return rows_plan(rows or [], ids, previous)


def save_rows(
    studio: Studio,
    w: PlanWidgets,
    project_id,
    rows: list[list],
    ids: list,
    chapter=None,
    request: gr.Request = None,
) -> dict:
    """An edit in the table: saved as a new plan version."""
    project = studio.project(project_id)
    try:
        plan = _shown_plan(studio, project, rows, ids, chapter)
    except UserError as error:
        return _put_back(studio, w, project, chapter, error)
    _save_plan(studio, project, plan, service.page_of(request))
    return {
        w.plan_ids: plan_ids(plan, chapter),
        w.versions: versions_menu(studio, project),
        w.chapters: chapter_table.table(chapter_rows(plan)),
    }


NOT_A_CELL = {"error.choose_chapter"}  # errors of the table as a whole, not of a cell typed


def _put_back(studio: Studio, w: PlanWidgets, project: Project, chapter, error: UserError):
    """A cell the plan cannot take (a word count of -200, "abc" or 999,999): the tables go back
    to the saved plan, and the message says which cell, once."""
    if error.key in NOT_A_CELL:
        raise error
    gr.Warning(error.text(current_language()))
    return plan_view(studio, w, project, studio.store.plan(project), chapter)


def edit_rows(
    studio: Studio,
    w: PlanWidgets,
    operation,
    project_id,
    rows,
    ids,
    row,
    total,
    chapter=None,
    request: gr.Request = None,
):
    """A row button (add, delete, move, lock): the rows and their ids move together."""
    project = studio.project(project_id)
    rows, ids = operation(rows or [], ids or [], row)
    previous = studio.store.plan(project)
    book = previous is not None and previous.two_level
    if rows or book:
        plan = _shown_plan(studio, project, rows, ids, chapter)
        _save_plan(studio, project, plan, service.page_of(request))
    plan = studio.store.plan(project)
    return {
        w.plan: table(rows),
        w.plan_ids: ids,
        w.plan_total: plan_total_line(chapter_rows(plan) if book else rows, total),
        w.versions: versions_menu(studio, project),
        w.chapters: chapter_table.table(chapter_rows(plan) if book else []),
    }


def save_chapters(
    studio: Studio, w: PlanWidgets, project_id, rows, ids, chapter, request: gr.Request = None
) -> dict:
    """An edit in the chapters table: saved as a new plan version (scenes follow chapters)."""
    project = studio.project(project_id)
    plan = _book(studio, project)
    try:
        plan = chapters_plan(rows or [], ids, plan)
    except UserError as error:
        return _put_back(studio, w, project, chapter, error)
    _save_plan(studio, project, plan, service.page_of(request))
    return plan_view(studio, w, project, plan, chapter)


def edit_chapters(
    studio: Studio,
    w: PlanWidgets,
    operation,
    project_id,
    rows,
    ids,
    row,
    chapter,
    request: gr.Request = None,
) -> dict:
    """A chapter button (add, delete, move, lock)."""
    project = studio.project(project_id)
    rows, ids = operation(rows or [], ids or [], row)
    plan = chapters_plan(rows, ids, _book(studio, project))
    _save_plan(studio, project, plan, service.page_of(request))
    return plan_view(studio, w, project, plan, chapter)


def pick_chapter(studio: Studio, w: PlanWidgets, project_id, chapter) -> dict:
    """Show one chapter's scenes in the rows table."""
    if project_id is None or not chapter:
        return {}
    project = studio.project(project_id)
    plan = _book(studio, project)
    return {w.plan: table(plan_rows(plan, chapter)), w.plan_ids: plan_ids(plan, chapter)}


def _book(studio: Studio, project: Project) -> Plan:
    plan = studio.store.plan(project)
    if plan is None or not plan.two_level:
        raise UserError(key="error.not_two_level")
    return plan


def rescale_rows(
    studio: Studio,
    w: PlanWidgets,
    project_id,
    rows,
    ids,
    total,
    chapter=None,
    request: gr.Request = None,
) -> dict:
    """Scale the plan to Total words; locked rows (and locked chapters) keep their words. A
    plan that already adds up is left as it is, and nothing is saved."""
    project = studio.project(project_id)
    if not total or int(total) <= 0:
        raise UserError(key="error.rescale_total")
    page = service.page_of(request)
    _save_plan(studio, project, _shown_plan(studio, project, rows, ids, chapter), page)
    service.checked(
        studio,
        page,
        project,
        lambda based_on: projects.rescale_plan(studio.store, project, int(total), based_on),
        plan=True,
    )
    return plan_view(studio, w, project, studio.store.plan(project), chapter)


def restore_plan(
    studio: Studio, w: PlanWidgets, project_id, version, chapter=None, request: gr.Request = None
) -> dict:
    project = studio.project(project_id)
    plan = studio.store.plan(project, chosen_number(version, "error.choose_plan_version"))
    if plan is None:
        raise UserError(key="error.no_plan_version", version=version)
    _save_plan(studio, project, plan, service.page_of(request))
    info("plan.restored", version=version)
    return plan_view(studio, w, project, plan, chapter)


def project_for_draft(studio: Studio, shared: Shared, project_id, instruction: str, total) -> dict:
    """The Brief tab's Draft plan: with no project open, a project named from the instruction
    is created first; either way the Plan tab shows, and the draft follows."""
    if project_id is not None:
        return {shared.tabs: gr.update(selected="plan-tab")}
    instruction = (instruction or "").strip()
    if not instruction:
        raise UserError(key="error.describe_first")
    words = words_from_instruction(instruction) or int(total or 1000)
    name = studio.store.unique_name(name_from_instruction(instruction))
    project = studio.claim(
        create_project(studio.store, name, instruction, words, model=studio.host.spec)
    )
    info("brief.created", name=project.name)
    return {**shared.view.of(studio, project), shared.tabs: gr.update(selected="plan-tab")}


def draft(
    studio: Studio, w: PlanWidgets, target, instruction, bible, total, single, up_front=False
) -> Iterator[dict]:
    """Stream a drafted plan; locked rows of the current plan keep their places. A piece over
    8,000 words gets chapters (and, with `up_front`, every chapter's scenes)."""
    target = Target.parse(target)
    project_id, page = (target.project_id, target.page) if target else (None, "")
    based_on = target.based_on() if target else None
    project, based_on = service.save_brief(
        studio, project_id, instruction, bible, total, single, based_on, page
    )
    if project is None:
        raise UserError(key="error.open_project")
    check_brief(project.instruction, project.bible, project.target_words)
    # refused before the model spends time on it when the project moved on since the press
    check_current(studio.store, based_on, project, brief=True, plan=True)
    if two_level(project.target_words):
        yield from draft_book(studio, w, project, bool(up_front), page, based_on)
        return
    previous = studio.store.plan(project)
    raw = ""

    def start(store, backend):
        yield from draft_plan_stream(
            backend, project.instruction, project.target_words, project.bible
        )
        yield from service.title_step(project, backend)

    for batch in studio.follow(project, start, page):
        for event in batch:
            if isinstance(event, service.Titled):
                service.title_drafted(studio, project, event.title)
            elif isinstance(event, str):
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
    _save_drafted(studio, project, plan, based_on, page)
    info("plan.drafted", count=len(plan.sections))
    yield {w.plan_stream: raw, **plan_view(studio, w, project, plan)}


def draft_book(
    studio: Studio,
    w: PlanWidgets,
    project: Project,
    up_front: bool,
    page: str = "",
    based_on: Versions | None = None,
) -> Iterator[dict]:
    """Stream a drafted chapter list (locked chapters of the current plan keep their places),
    then, with `up_front`, draft each chapter's scenes. Each step is saved as it ends."""
    previous = studio.store.plan(project)
    total = project.target_words
    raw, line, plan = "", "", None

    def start(store, backend):
        text = ""
        for piece in draft_chapters_stream(backend, project.instruction, total, project.bible):
            text += piece
            yield piece
        book = chapter_table.merge_locked_chapters(
            previous, chapters_from_model_output(text, total), total
        )
        yield book
        yield from service.title_step(project, backend)
        if not up_front:
            return
        for chapter in book.chapters:
            if not book.scenes(chapter.id):
                yield ChapterPlanning(chapter.id)
                brief = Brief(project.instruction, book, project.bible)
                book = draft_scenes(backend, brief, chapter.id, project.settings.sampling.seed)
                yield book

    for batch in studio.follow(project, start, page):
        for event in batch:
            if isinstance(event, str):
                raw += event
            elif isinstance(event, Plan):
                plan = event
                based_on = _save_drafted(studio, project, plan, based_on, page)
            elif isinstance(event, service.Titled):
                service.title_drafted(studio, project, event.title)
            elif isinstance(event, ChapterPlanning):
                number = plan.chapter_index(event.chapter_id) + 1
                line = t("plan.drafting_scenes", number=number, count=len(plan.chapters))
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Ended) and event.stopped:
                warning("plan.book_stopped" if plan else "plan.draft_stopped")
                if plan is not None:
                    yield plan_view(studio, w, project, plan)
                return
        yield {w.plan_stream: f"{line}\n\n{raw}" if line else raw}
    key = "plan.drafted_book_scenes" if up_front else "plan.drafted_book"
    info(key, count=len(plan.chapters), scenes=len(plan.sections))
    yield {w.plan_stream: raw, **plan_view(studio, w, project, plan)}


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: PlanWidgets, shared: Shared) -> None:
    project_id, brief = shared.open.project_id, shared.brief
    for changed in (w.plan, w.chapters, shared.brief.total):
        changed.change(
            live_total, [w.plan, w.chapters, shared.brief.total], [w.plan_total], **INSTANT
        )
    w.plan.input(
        user_errors(functools.partial(save_rows, studio, w)),
        [project_id, w.plan, w.plan_ids, w.chapter_pick],
        plan_outputs(w),
        **INSTANT,
    )
    w.chapters.input(
        user_errors(functools.partial(save_chapters, studio, w)),
        [project_id, w.chapters, w.chapter_ids, w.chapter_pick],
        plan_outputs(w),
        **INSTANT,
    )
    for refresh in shared.page_refresh.triggers():
        refresh(
            functools.partial(menus_now, studio),
            [project_id, w.chapter_pick, w.versions, w.menus_sent],
            [w.chapter_pick, w.versions, w.menus_sent],
            **INSTANT,
        )
    w.chapter_pick.select(
        user_errors(functools.partial(pick_chapter, studio, w)),
        [project_id, w.chapter_pick],
        [w.plan, w.plan_ids],
        **INSTANT,
    )

    def select_row(event: gr.SelectData):
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        return row + 1 if isinstance(row, int) else gr.skip()

    w.plan.select(select_row, None, [w.row], **INSTANT)
    w.chapters.select(select_row, None, [w.chapter_row], **INSTANT)
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
            [project_id, w.plan, w.plan_ids, w.row, shared.brief.total, w.chapter_pick],
            [w.plan, w.plan_ids, w.plan_total, w.versions, w.chapters],
            **INSTANT,
        )
    chapter_operations = {
        w.add_chapter: add_chapter,
        w.delete_chapter: delete_row,
        w.chapter_up: lambda rows, ids, row: move_row(rows, ids, row, -1),
        w.chapter_down: lambda rows, ids, row: move_row(rows, ids, row, +1),
        w.lock_chapter: toggle_lock,
    }
    for button, operation in chapter_operations.items():
        button.click(
            user_errors(functools.partial(edit_chapters, studio, w, operation)),
            [project_id, w.chapters, w.chapter_ids, w.chapter_row, w.chapter_pick],
            plan_outputs(w),
            **INSTANT,
        )
    w.rescale.click(
        user_errors(functools.partial(rescale_rows, studio, w)),
        [project_id, w.plan, w.plan_ids, shared.brief.total, w.chapter_pick],
        plan_outputs(w),
        **INSTANT,
    )
    w.restore_plan.click(
        user_errors(functools.partial(restore_plan, studio, w)),
        [project_id, w.versions, w.chapter_pick],
        plan_outputs(w),
        **INSTANT,
    )
    drafting = {
        "fn": functools.partial(draft, studio, w),
        "inputs": [*brief.fields(), w.scenes_up_front],
        "outputs": [w.plan_stream, *plan_outputs(w)],
        "show_progress_on": [w.plan_stream],
    }
    titled = (
        user_errors(functools.partial(service.title_view, studio, shared)),
        [project_id],
        [brief.book_title, shared.project_list],
    )
    service.pressing(
        studio, shared, w.draft.click, "draft", w.plan_stream, saves_brief=True, **drafting
    ).then(*titled, **INSTANT)
    # the Brief tab's own Draft plan: a project from the instruction if none is open
    created = brief.draft.click(
        user_errors(functools.partial(project_for_draft, studio, shared)),
        [project_id, brief.instruction, brief.total],
        [*shared.view.components(), shared.tabs],
        **INSTANT,
    )
    service.pressing(
        studio,
        shared,
        created.success,
        "draft",
        w.plan_stream,
        saves_brief=True,
        after_step=True,
        **drafting,
    ).then(*titled, **INSTANT)
    # the tab's last step: Write, on the Write tab
    to_write_tab = w.write.click(
        lambda: gr.update(selected="write-tab"), None, [shared.tabs], **INSTANT
    )
    service.write_events(studio, shared, ((to_write_tab.then, False),))
