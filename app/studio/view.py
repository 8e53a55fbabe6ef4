"""What shows a project: every component that changes when a project is opened, in one place.

Each feature module gives the values of its own components (`view_of`); `project_view` puts
them together with the project's name and id, and `components` is the list Gradio needs as the
outputs of any handler that (re)opens a project.
"""

from app.studio.language import label
from app.studio.state import Studio
from engine.store.database import Project


def features() -> tuple:
    """The feature modules that show part of a project. Imported here, not at the top: they
    import this module to reopen a project, and this one needs them only when called."""
    from app.studio import (
        bible_style,
        brief_plan,
        length_score,
        recaps,
        review_panel,
        section_tools,
        welcome,
        writing,
    )

    return (
        welcome,
        brief_plan,
        bible_style,
        writing,
        recaps,
        section_tools,
        length_score,
        review_panel,
    )


def project_view(studio: Studio, w, project: Project | None) -> dict:
    """Every component that shows a project, filled from the store (or emptied)."""
    view = {
        w.project_id: project.id if project else None,
        w.last_project: project.id if project else None,
        w.title: f"### {project.name}" if project else label("app.title_none"),
        w.rename_to: project.name if project else "",
        w.project_list: studio.project_table(),
    }
    for feature in features():
        view.update(feature.view_of(studio, w, project))
    return view


def components(w) -> list:
    """The outputs of a handler that returns project_view (its keys, in a stable order)."""
    names = [w.project_id, w.last_project, w.title, w.rename_to, w.project_list]
    for feature in features():
        names += feature.view_components(w)
    return names
