"""The contract between the studio's screen (app.studio.ui) and its panels (app.studio.panels).

A panel is one module under app/studio/panels with a dataclass of the components it lays out
(`BriefWidgets`, `WritingWidgets`, ...). That dataclass is the panel's Feature: it says which of
its components show a project and fills them (`view_components`, `view_of`), wires its events
(`wire`), and says whether it refreshes after a generation or an edit (`refreshes_after_run`,
then `after_run`/`after_run_components`).

A panel never imports another panel. What several panels touch is passed to `wire` as `Shared`:
the open project, the tabs, the project list, the brief's fields (the input of every
generation), the run display (where every generation streams), the download field, the section
tools' rewrite flow, the project view (every component that shows a project), the header line
naming the model, and the refreshes that follow a run. So a panel's reach into the rest of
the screen is visible in its signature.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import gradio as gr
from gradio.blocks import Block
from gradio.components import Component

from app.studio.events import INSTANT, user_errors
from app.studio.language import label
from app.studio.state import Studio
from app.studio.target import Target
from engine.store.database import Project


class Feature(Protocol):
    """What ui.py needs of a panel; each panel's widgets dataclass is one."""

    refreshes_after_run: ClassVar[bool]

    def view_components(self) -> list[Component]:
        """The components `view_of` sets, in a stable order."""
        ...

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        """Those components filled from the project (or emptied when none is open)."""
        ...

    def wire(self, studio: Studio, shared: "Shared", demo: gr.Blocks) -> None:
        """Bind the panel's events; what it changes outside itself goes through `shared`."""
        ...

    def after_run(self, studio: Studio, project_id: int | None) -> dict:
        """What changes once a generation or an edit ends (when `refreshes_after_run`)."""
        ...

    def after_run_components(self) -> list[Component]: ...


class NoRefreshAfterRun:
    """The after-run part of a Feature for a panel that shows nothing a run changes."""

    refreshes_after_run: ClassVar[bool] = False

    def after_run(self, _studio: Studio, _project_id: int | None) -> dict:
        return {}

    def after_run_components(self) -> list[Component]:
        return []


@dataclass
class BriefInputs:
    """The brief as typed (laid out by the Brief panel): what every generation reads, saved
    to the project it applies to when it starts. `draft` is the Brief tab's Draft plan.
    `book_title` is the book's title: no generation reads it, Draft plan drafts it with the
    plan when the project has none."""

    instruction: gr.Textbox
    bible: gr.Textbox
    total: gr.Number
    single: gr.Checkbox
    draft: gr.Button
    book_title: gr.Textbox

    def fields(self) -> list[Component]:
        return [self.instruction, self.bible, self.total, self.single]


@dataclass
class RunDisplay:
    """Where a generation streams (laid out by the Writing panel): the document, the active
    section's heading and text, and the progress line; and Stop, red while the page's
    generation runs (not streamed into)."""

    document: gr.HTML
    active_heading: gr.HTML
    active: gr.HTML
    progress: gr.Markdown
    stop: gr.Button

    def components(self) -> list[Component]:
        return [self.document, self.active_heading, self.active, self.progress]


@dataclass
class SectionRewrite:
    """The section tools' rewrite-and-diff flow (laid out by the Section tools panel), for a
    panel that proposes a rewrite of a passage (the Review tab's Fix this): show the tools
    (`tools`) on a section (`section`) with an instruction (`instruction`), then `stream` the
    rewrite into the run display; it ends with the difference shown, Accept and Discard under
    it, in `outputs`.

    `stream(studio, run, target, section_id, instruction, selection)`: `target` the project
    pressed on, `selection` the passage's [start, end] in the section's current text."""

    tools: gr.Accordion
    section: gr.Dropdown
    instruction: gr.Textbox
    stream: Callable[..., Iterator[dict]]
    outputs: list[Component]

    def components(self) -> list[Component]:
        return [self.tools, self.section, self.instruction, *self.outputs]


@dataclass
class OpenProject:
    """Which project a page has open (laid out by ui.py).

    `project_id` is a server-side state, read when a handler runs: a job waiting in the queue
    would read the project the page has open when its turn comes. So a generating action
    reads `pressed` instead: a hidden field that its press step fills from `target` (the open
    project as a Target, also hidden), whose value the page sends with the queued request.
    The action then applies to the project it was pressed on, whenever it runs."""

    project_id: gr.State
    last_project: gr.BrowserState
    title: gr.Markdown
    target: gr.Textbox
    pressed: gr.Textbox

    def view_components(self) -> list[Component]:
        return [self.project_id, self.last_project, self.title, self.target]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        """The project as the page now shows it; `target` carries the versions it shows, which
        the page's writes are based on from then on."""
        target = Target.of(project, studio.store.versions(project)) if project else None
        return {
            self.project_id: project.id if project else None,
            self.last_project: project.id if project else None,
            self.title: f"### {project.name}" if project else label("app.title_none"),
            self.target: target.to_json() if target else "",
        }


@dataclass
class PageRefresh:
    """The page's lists as other tabs left them (laid out by ui.py): a timer ticks every few
    seconds, and a hidden button the page presses when it regains focus. The project list,
    section menu, history, chapter picker and plan versions answer both."""

    timer: gr.Timer
    on_focus: gr.Button

    def triggers(self) -> list:
        return [self.timer.tick, self.on_focus.click]


@dataclass
class ProjectView:
    """Every component that shows a project: the open project's own, then each feature's."""

    open: OpenProject
    features: list[Feature]

    def components(self) -> list[Component]:
        """The outputs of a handler that (re)opens a project, in a stable order."""
        names = self.open.view_components()
        for feature in self.features:
            names += feature.view_components()
        return names

    def of(self, studio: Studio, project: Project | None) -> dict:
        view = self.open.view_of(studio, project)
        for feature in self.features:
            view.update(feature.view_of(studio, project))
        return view


@dataclass
class Refresh:
    """One handler run after a generation or an edit ends."""

    fn: Callable
    inputs: list[Component]
    outputs: list[Component]


@dataclass
class Shared:
    """What panels share, passed to every `wire`."""

    open: OpenProject
    tabs: gr.Tabs
    write_tab: Block
    project_list: gr.Dataframe
    brief: BriefInputs
    run: RunDisplay
    export_file: gr.File  # the Write tab's download field (laid out by the Writing panel)
    rewrite: SectionRewrite
    view: ProjectView
    page_refresh: PageRefresh
    model_header: gr.Markdown  # the line naming the model that writes (the model panel's)
    refreshes: list[Refresh] = field(default_factory=list)

    def then_refresh(self, event) -> None:
        """Chain the after-run refreshes (project list, section menu, recaps, length view)."""
        for refresh in self.refreshes:
            event = event.then(user_errors(refresh.fn), refresh.inputs, refresh.outputs, **INSTANT)
