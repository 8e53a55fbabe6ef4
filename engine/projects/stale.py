"""Refusing stale writes: a write is based on the versions the writer saw (`Versions`, from
`store.versions(project)` when the page or file was made), and is refused when the part of the
project it changes is no longer at that version: another tab, window or command wrote it since.

The project service, runs and revisions call `check_current` inside the write's transaction.
"""

from engine.errors import UserError
from engine.store.database import Project, Store, Versions


def check_current(
    store: Store,
    based_on: Versions | None,
    project: Project | None = None,
    *,
    brief: bool = False,
    plan: bool = False,
    sections: tuple[str, ...] = (),
    all_sections: bool = False,
) -> None:
    """Refuse (UserError, keyed error.stale_*) a write whose basis is no longer current: the
    brief, the plan, the named sections' current versions, or every section's. `project` is the
    project the write goes to: a basis taken from another project is refused too. None writes
    unchecked. Call it inside `store.transaction()` with the write, so nothing changes between
    the check and the write."""
    if based_on is None:
        return
    if project is not None and project.id != based_on.project_id:
        raise UserError(key="error.stale_project")
    project = project or store.project_by_id(based_on.project_id)
    now = store.versions(project)
    if brief and now.brief != based_on.brief:
        raise UserError(key="error.stale_brief", name=project.name)
    if plan and now.plan != based_on.plan:
        raise UserError(key="error.stale_plan", name=project.name, version=now.plan)
    if all_sections and now.sections != based_on.sections:
        raise UserError(key="error.stale_sections", name=project.name)
    for section_id in sections:
        if now.sections.get(section_id) != based_on.sections.get(section_id):
            raise UserError(
                key="error.stale_section",
                name=project.name,
                section=_row_number(store, project, section_id),
            )


def _row_number(store: Store, project: Project, section_id: str) -> str:
    plan = store.plan(project)
    position = plan.position(section_id) if plan else None
    return str(position + 1) if position is not None else section_id
