"""Chapter recaps (two-level pieces): read and edit what each finished chapter told.

A recap the writer edits is saved as edited and goes into later chapters' prompts as written;
emptying it removes it, and the model writes a new one when a run next reaches that chapter.
"""

import functools

import gradio as gr

from app.studio.chapter_table import chapter_choices
from app.studio.events import INSTANT, user_errors
from app.studio.language import info, label
from app.studio.state import Studio
from app.studio.writing import document_html
from engine.errors import UserError
from engine.store.database import Project

MAX_RECAP_CHARS = 4_000


def layout(w) -> None:
    with gr.Accordion(
        label("recap.tools"), open=False, visible=False, elem_id="recap-tools"
    ) as w.recap_box:
        w.recap_chapter = gr.Dropdown(label=label("recap.chapter"), elem_id="recap-chapter")
        w.recap_text = gr.Textbox(
            label=label("recap.text"), info=label("recap.info"), lines=4, elem_id="recap-text"
        )
        w.save_recap = gr.Button(label("recap.save"), elem_id="save-recap")


def view_components(w) -> list:
    return [w.recap_box, w.recap_chapter, w.recap_text]


def view_of(studio: Studio, w, project: Project | None) -> dict:
    plan = studio.store.plan(project) if project else None
    book = plan is not None and plan.two_level
    return {
        w.recap_box: gr.update(visible=book),
        w.recap_chapter: gr.update(choices=chapter_choices(plan) if book else [], value=None),
        w.recap_text: "",
    }


def show(studio: Studio, project_id, chapter_id) -> str:
    """The chosen chapter's recap ("" when it has none yet)."""
    if project_id is None or not chapter_id:
        return ""
    recap = studio.store.recaps(studio.project(project_id)).get(str(chapter_id))
    return recap.text if recap else ""


def save(studio: Studio, w, project_id, chapter_id, text) -> dict:
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
    document, _ = document_html(studio, project, plan)
    return {w.document: document, w.recap_text: text}


def refresh(studio: Studio, w, project_id) -> dict:
    """After a run or a plan edit: the chapter menu follows the plan, the choice stays."""
    if project_id is None:
        return {}
    plan = studio.store.plan(studio.project(project_id))
    book = plan is not None and plan.two_level
    return {
        w.recap_box: gr.update(visible=book),
        w.recap_chapter: gr.update(choices=chapter_choices(plan) if book else []),
    }


def wire(studio: Studio, w, demo: gr.Blocks) -> None:
    w.recap_chapter.select(
        user_errors(functools.partial(show, studio)),
        [w.project_id, w.recap_chapter],
        [w.recap_text],
        **INSTANT,
    )
    w.save_recap.click(
        user_errors(functools.partial(save, studio, w)),
        [w.project_id, w.recap_chapter, w.recap_text],
        [w.document, w.recap_text],
        **INSTANT,
    )
    w.write_tab.select(
        user_errors(functools.partial(refresh, studio, w)),
        [w.project_id],
        [w.recap_box, w.recap_chapter],
        **INSTANT,
    )
