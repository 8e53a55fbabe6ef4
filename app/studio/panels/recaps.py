"""Chapter recaps (two-level pieces): read and edit what each finished chapter told.

A recap the writer edits is saved as edited and goes into later chapters' prompts as written;
emptying it removes it, and the model writes a new one when a run next reaches that chapter.
"""

import functools
from dataclasses import dataclass
from typing import ClassVar

import gradio as gr
from gradio.components import Component

from app.studio import service
from app.studio.chapter_table import chapter_choices
from app.studio.events import INSTANT, user_errors
from app.studio.feature import RunDisplay, Shared
from app.studio.language import info, label
from app.studio.state import Studio
from engine.errors import UserError
from engine.store.database import Project

MAX_RECAP_CHARS = 4_000


@dataclass
class RecapWidgets:
    """The recaps accordion (shown for two-level pieces) under the Write tab's document."""

    recap_box: gr.Accordion
    recap_chapter: gr.Dropdown
    recap_text: gr.Textbox
    save_recap: gr.Button

    refreshes_after_run: ClassVar[bool] = True

    def view_components(self) -> list[Component]:
        return [self.recap_box, self.recap_chapter, self.recap_text]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        plan = studio.store.plan(project) if project else None
        book = plan is not None and plan.two_level
        return {
            self.recap_box: gr.update(visible=book),
            self.recap_chapter: gr.update(
                choices=chapter_choices(plan) if book else [], value=None
            ),
            self.recap_text: "",
        }

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared)

    def after_run(self, studio: Studio, project_id: int | None) -> dict:
        return refresh(studio, self, project_id)

    def after_run_components(self) -> list[Component]:
        return [self.recap_box, self.recap_chapter]


def layout() -> RecapWidgets:
    with gr.Accordion(
        label("recap.tools"), open=False, visible=False, elem_id="recap-tools"
    ) as recap_box:
        recap_chapter = gr.Dropdown(label=label("recap.chapter"), elem_id="recap-chapter")
        recap_text = gr.Textbox(
            label=label("recap.text"), info=label("recap.info"), lines=4, elem_id="recap-text"
        )
        save_recap = gr.Button(label("recap.save"), elem_id="save-recap")
    return RecapWidgets(recap_box, recap_chapter, recap_text, save_recap)


def show(studio: Studio, project_id, chapter_id) -> str:
    """The chosen chapter's recap ("" when it has none yet)."""
    if project_id is None or not chapter_id:
        return ""
    recap = studio.store.recaps(studio.project(project_id)).get(str(chapter_id))
    return recap.text if recap else ""


def save(studio: Studio, w: RecapWidgets, run: RunDisplay, project_id, chapter_id, text) -> dict:
    project = studio.project(project_id)
    plan = studio.store.plan(project)
    chapters = {c.id: i + 1 for i, c in enumerate(plan.chapters)} if plan else {}
    if chapter_id not in chapters:
        raise UserError(key="error.choose_chapter")
    text = (text or "").strip()
    if len(text) > MAX_RECAP_CHARS:
        raise UserError(
            key="error.recap_long", length=f"{len(text):,}", most=f"{MAX_RECAP_CHARS:,}"
        )
    studio.store.save_recap(project, chapter_id, text, edited=bool(text))
    info("recap.saved" if text else "recap.cleared", number=chapters[chapter_id])
    document, _ = service.document_html(studio, project, plan)
    return {run.document: document, w.recap_text: text}


def refresh(studio: Studio, w: RecapWidgets, project_id) -> dict:
    """After a run or a plan edit: the chapter menu follows the plan, the choice stays."""
    if project_id is None:
        return {}
    plan = studio.store.plan(studio.project(project_id))
    book = plan is not None and plan.two_level
    return {
        w.recap_box: gr.update(visible=book),
        w.recap_chapter: gr.update(choices=chapter_choices(plan) if book else []),
    }


def wire(studio: Studio, w: RecapWidgets, shared: Shared) -> None:
    project_id = shared.open.project_id
    w.recap_chapter.select(
        user_errors(functools.partial(show, studio)),
        [project_id, w.recap_chapter],
        [w.recap_text],
        **INSTANT,
    )
    w.save_recap.click(
        user_errors(functools.partial(save, studio, w, shared.run)),
        [project_id, w.recap_chapter, w.recap_text],
        [shared.run.document, w.recap_text],
        **INSTANT,
    )
    shared.write_tab.select(
        user_errors(functools.partial(refresh, studio, w)),
        [project_id],
        w.after_run_components(),
        **INSTANT,
    )
