"""The projects panel: the list, create, open, rename, duplicate and delete."""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import gradio as gr
from gradio.components import Component

from app.studio.events import GENERATING, INSTANT, user_errors, user_errors_stream
from app.studio.feature import ProjectView, Shared
from app.studio.jobs import Job
from app.studio.language import info, label, t
from app.studio.state import PROJECT_COLUMNS, Studio
from engine.errors import UserError
from engine.metrics import count_words
from engine.projects.importing import (
    Imported,
    ImportProgress,
    default_import_name,
    import_manuscript,
)
from engine.projects.run import project_document
from engine.store.backup import backup_files, backups_dir, last_backup_time
from engine.store.database import Project
from engine.writing.events import Failed

# Create's answer fills the brief from the new project, 1–3 s after the press under load; a
# writer who already started typing there keeps what they typed (issue 25's Create race)
BRIEF_BOXES = "['book-title', 'instruction', 'bible', 'style-sample', 'total-words']"
WATCH_TYPING = f"""() => {{
  window.__lwTyped = {{}};
  window.__lwWatch = (event) => {{
    const box = event.target.closest('[id]');
    if (box && {BRIEF_BOXES}.includes(box.id)) window.__lwTyped[box.id] = event.target.value;
  }};
  document.addEventListener('input', window.__lwWatch, true);
}}"""
KEEP_TYPING = """() => {
  document.removeEventListener('input', window.__lwWatch, true);
  for (const [id, value] of Object.entries(window.__lwTyped || {})) {
    const box = document.querySelector(`#${id} textarea, #${id} input`);
    if (box && box.value !== value) {
      box.value = value;
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }
  window.__lwTyped = {};
}"""
NEW_PROJECT_WORDS = 1000  # a new project's Total words until the writer sets its own


@dataclass
class ProjectsWidgets:
    """The side column's projects panel: the list, create, import, and manage (rename,
    duplicate, delete)."""

    project_list: gr.Dataframe
    new_name: gr.Textbox
    create: gr.Button
    backup_info: gr.Markdown
    import_file: gr.File
    import_name: gr.Textbox  # the new project's name: the manuscript's title, "Title (2)" if taken
    import_button: gr.Button
    import_status: gr.Markdown
    rename_to: gr.Textbox
    rename: gr.Button
    duplicate: gr.Button
    delete: gr.Button
    delete_note: gr.Markdown
    delete_confirm: gr.Button
    delete_cancel: gr.Button
    delete_box: gr.Group

    refreshes_after_run: ClassVar[bool] = True

    def view_components(self) -> list[Component]:
        return [self.rename_to, self.project_list]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return {
            self.rename_to: project.name if project else "",
            self.project_list: studio.project_table(),
        }

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared, demo)

    def after_run(self, studio: Studio, project_id: int | None) -> dict:
        """Words, status and last edit change with every run and edit."""
        return {self.project_list: studio.project_table()}

    def after_run_components(self) -> list[Component]:
        return [self.project_list]


def layout() -> ProjectsWidgets:
    gr.Markdown(label("projects.heading"))
    project_list = gr.Dataframe(
        headers=[t(f"projects.col.{column}") for column in PROJECT_COLUMNS],
        datatype=["str", "str", "number", "number", "str", "str"],
        interactive=False,
        elem_id="project-list",
        max_height=320,
        label=label("projects.list"),
    )
    with gr.Row():
        new_name = gr.Textbox(label=label("projects.new_name"), elem_id="new-name", scale=3)
        create = gr.Button(label("projects.create"), elem_id="create-project", scale=1)
    backup_info = gr.Markdown(elem_id="backup-info")
    with gr.Accordion(label("projects.import_panel"), open=False, elem_id="import-panel"):
        import_file = gr.File(
            label=label("projects.import_file"),
            file_types=[".md", ".markdown", ".txt", ".docx"],
            elem_id="import-file",
        )
        import_name = gr.Textbox(label=label("projects.import_name"), elem_id="import-name")
        import_button = gr.Button(label("projects.import"), elem_id="import-project")
        import_status = gr.Markdown(elem_id="import-status")
    with gr.Accordion(label("projects.manage"), open=False, elem_id="manage"):
        with gr.Row():
            rename_to = gr.Textbox(label=label("projects.name"), elem_id="rename-to", scale=3)
            rename = gr.Button(label("projects.rename"), elem_id="rename-project", scale=1)
        with gr.Row():
            duplicate = gr.Button(label("projects.duplicate"), elem_id="duplicate-project")
            delete = gr.Button(label("projects.delete"), variant="stop", elem_id="delete-project")
        with gr.Group(visible=False) as delete_box:
            delete_note = gr.Markdown(elem_id="delete-note")
            with gr.Row():
                delete_confirm = gr.Button(
                    label("projects.delete_confirm"), variant="stop", elem_id="delete-confirm"
                )
                delete_cancel = gr.Button(label("projects.delete_cancel"), elem_id="delete-cancel")
    return ProjectsWidgets(
        project_list=project_list,
        new_name=new_name,
        create=create,
        backup_info=backup_info,
        import_file=import_file,
        import_name=import_name,
        import_button=import_button,
        import_status=import_status,
        rename_to=rename_to,
        rename=rename,
        duplicate=duplicate,
        delete=delete,
        delete_note=delete_note,
        delete_confirm=delete_confirm,
        delete_cancel=delete_cancel,
        delete_box=delete_box,
    )


# -- handlers ---------------------------------------------------------------------------------
def backup_line(studio: Studio) -> str:
    """When the database was last backed up, and where the copies are."""
    taken = last_backup_time(studio.db_path)
    if taken is None:
        return t("backup.none")
    kept = len(backup_files(studio.db_path))
    when = taken.astimezone().strftime("%Y-%m-%d %H:%M")
    return t("backup.last", when=when, kept=kept, folder=backups_dir(studio.db_path))


def refreshed_list(studio: Studio, shown) -> dict:
    """The project list now, or gr.skip() when the page shows it as it is already (an update
    redraws the table under the writer's pointer)."""
    table = studio.project_table()
    rows = shown.values.tolist() if hasattr(shown, "values") else (shown or {}).get("data", [])
    as_text = [[str(cell) for cell in row] for row in rows]
    if as_text == [[str(cell) for cell in row] for row in table["data"]]:
        return gr.skip()
    return table


def import_name_of(studio: Studio, path: str | None) -> str:
    """The name a chosen manuscript is offered: its title (or file name), "Title (2)" when a
    project has it already; the writer may type another."""
    if not path:
        return ""
    try:
        return default_import_name(studio.store, path)
    except UserError:
        return ""  # an unreadable file: the import itself says why


def on_load(studio: Studio, w: ProjectsWidgets, view: ProjectView, last_project) -> dict:
    """Reopen the project this browser had open last (if it still exists). With none, only
    the list is filled: the page is empty already, and a project the writer created or
    opened before this answer arrived stays open."""
    try:
        project = studio.project(last_project) if last_project is not None else None
    except UserError:
        project = None
    if project is None:
        return {w.project_list: studio.project_table()}
    return view.of(studio, project)


def create(studio: Studio, w: ProjectsWidgets, view: ProjectView, name: str) -> dict:
    """A new project with the studio's defaults: nothing of the open project carries over
    (its fields are all set from the new project)."""
    if not (name or "").strip():
        raise UserError(key="error.type_name")
    project = studio.claim(
        studio.store.create_project(name, "", NEW_PROJECT_WORDS, model=studio.host.spec)
    )
    info("projects.created", name=project.name)
    return {**view.of(studio, project), w.new_name: ""}


def open_row(studio: Studio, view: ProjectView, row: int | None, name: str | None = None) -> dict:
    """Open the project clicked: by the name the clicked row shows (names are unique), never
    by its position, which another tab's create, rename or delete moves. Without a name (a
    caller that knows only the row), the row of the list as it is now."""
    if name is None:
        names = [p.name for p in studio.projects()]
        if row is None or not 0 <= row < len(names):
            raise UserError(key="error.click_project")
        name = names[row]
    try:
        project = studio.project_named(str(name))
    except UserError:
        raise UserError(key="error.click_project") from None
    return view.of(studio, project)


def rename(studio: Studio, view: ProjectView, project_id: int | None, new_name: str) -> dict:
    project = studio.store.rename_project(studio.project(project_id), new_name or "")
    info("projects.renamed", name=project.name)
    return view.of(studio, project)


def duplicate(studio: Studio, view: ProjectView, project_id: int | None) -> dict:
    project = studio.project(project_id)
    store = studio.store
    copy = store.duplicate_project(
        project, store.unique_name(t("projects.copy_name", name=project.name))
    )
    info("projects.duplicated", name=copy.name)
    return view.of(studio, copy)


def ask_delete(studio: Studio, w: ProjectsWidgets, project_id: int | None) -> dict:
    project = studio.project(project_id)
    words = count_words(project_document(studio.store, project).body)
    note = t("projects.delete_note", name=project.name, words=f"{words:,}")
    return {w.delete_box: gr.update(visible=True), w.delete_note: note}


def delete(studio: Studio, w: ProjectsWidgets, view: ProjectView, project_id: int | None) -> dict:
    project = studio.project(project_id)
    if studio.busy(project):
        raise UserError(key="error.stop_before_delete")
    studio.store.delete_project(project)
    info("projects.deleted", name=project.name)
    return {**view.of(studio, None), w.delete_box: gr.update(visible=False)}


def import_file(
    studio: Studio, w: ProjectsWidgets, view: ProjectView, path: str | None, name: str
) -> Iterator[dict]:
    """Import a manuscript as a new project: headings become plan rows, the model writes each
    row's main point; then the project opens."""
    if not path:
        raise UserError(key="error.choose_import")
    host, project_name, writer = studio.host, (name or "").strip() or None, studio.writer()
    ticket = studio.press("")
    with studio.turn(ticket) as waiting:
        for _ in waiting:
            action = t("queue.import", name=project_name or Path(path).name)
            yield {w.import_status: t("queue.waiting", action=action, place=studio.place(ticket))}
        # a Job: the import runs in one thread with its own connection (a generator handler may
        # be resumed on another of Gradio's threads, and a sqlite3 connection stays in its thread)
        job = Job(
            studio.db_path,
            lambda store: host.lent(
                lambda b: import_manuscript(store, path, b, project_name, owner=writer)
            ),
        )
        imported = None
        for batch in job.batches():
            for event in batch:
                if isinstance(event, ImportProgress):
                    line = t(
                        "projects.summarising",
                        piece=event.piece,
                        count=event.count,
                        title=event.title,
                    )
                    yield {w.import_status: line}
                elif isinstance(event, Imported):
                    imported = studio.project(event.project.id)
                elif isinstance(event, Failed):
                    raise event.error
    if imported is not None:
        info("projects.imported", name=imported.name)
        yield {
            **view.of(studio, imported),
            w.import_status: t("projects.imported_as", name=imported.name),
            w.import_name: "",
        }


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: ProjectsWidgets, shared: Shared, demo: gr.Blocks) -> None:
    project_view, project_id = shared.view, shared.open.project_id
    view = project_view.components()
    demo.load(functools.partial(on_load, studio, w, project_view), [shared.open.last_project], view)
    demo.load(lambda: backup_line(studio), None, [w.backup_info], **INSTANT)
    # the list answers a click by the row's name, so a refresh never moves what a click opens
    for refresh in shared.page_refresh.triggers():
        refresh(
            functools.partial(refreshed_list, studio), [w.project_list], [w.project_list], **INSTANT
        )
    w.create.click(None, None, None, js=WATCH_TYPING).then(
        user_errors(functools.partial(create, studio, w, project_view)),
        [w.new_name],
        [*view, w.new_name],
        **INSTANT,
    ).then(None, None, None, js=KEEP_TYPING)

    def open_selected(event: gr.SelectData) -> dict:
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        shown = getattr(event, "row_value", None)  # the clicked row as the page shows it
        name = shown[0] if isinstance(shown, list | tuple) and shown else None
        return user_errors(open_row)(studio, project_view, row, name)

    w.project_list.select(open_selected, None, view, **INSTANT)
    w.rename.click(
        user_errors(functools.partial(rename, studio, project_view)),
        [project_id, w.rename_to],
        view,
        **INSTANT,
    )
    w.duplicate.click(
        user_errors(functools.partial(duplicate, studio, project_view)),
        [project_id],
        view,
        **INSTANT,
    )
    w.delete.click(
        user_errors(functools.partial(ask_delete, studio, w)),
        [project_id],
        [w.delete_box, w.delete_note],
        **INSTANT,
    )
    w.import_file.change(
        user_errors(functools.partial(import_name_of, studio)),
        [w.import_file],
        [w.import_name],
        **INSTANT,
    )
    w.import_button.click(
        user_errors_stream(functools.partial(import_file, studio, w, project_view)),
        [w.import_file, w.import_name],
        [*view, w.import_status, w.import_name],
        show_progress_on=[w.import_status],
        **GENERATING,
    )
    w.delete_cancel.click(lambda: gr.update(visible=False), None, [w.delete_box], **INSTANT)
    w.delete_confirm.click(
        user_errors(functools.partial(delete, studio, w, project_view)),
        [project_id],
        [*view, w.delete_box],
        **INSTANT,
    )
