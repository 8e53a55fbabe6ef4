"""The Brief tab: instruction, story bible (with its summary and style), length and mode.

Every field is saved as it changes or loses focus, so nothing typed is lost when the page
closes. The brief's fields and its Draft plan button are shared (Shared.brief): every
generation reads the brief as typed, and the Plan panel wires Draft plan, since a draft fills
the plan.
"""

import functools
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from app.studio import bible_style, service
from app.studio.events import INSTANT, user_errors
from app.studio.feature import BriefInputs, NoRefreshAfterRun, Shared
from app.studio.language import label
from app.studio.state import Studio
from engine.errors import UserError
from engine.planning.plan import words_from_instruction
from engine.store.database import Project
from engine.writing.style import PRESETS


@dataclass
class BriefWidgets(NoRefreshAfterRun):
    """The brief's shared fields (BriefInputs), the bible summary and style, and the hidden
    suggested total the page's script reads."""

    inputs: BriefInputs
    bible_summary: gr.Markdown
    style: gr.CheckboxGroup
    style_sample: gr.Textbox
    suggested_total: gr.Number

    def view_components(self) -> list[Component]:
        return [
            *self.inputs.fields(),
            self.bible_summary,
            self.style,
            self.style_sample,
            self.inputs.book_title,
        ]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return view_of(self, project)

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared)


def layout() -> BriefWidgets:
    book_title = gr.Textbox(
        label=label("brief.book_title"),
        placeholder=label("brief.book_title_placeholder"),
        elem_id="book-title",
    )
    instruction = gr.Textbox(
        label=label("brief.instruction"),
        placeholder=label("brief.instruction_placeholder"),
        lines=4,
        elem_id="instruction",
    )
    bible = gr.Textbox(
        label=label("brief.bible"),
        placeholder=label("brief.bible_placeholder"),
        lines=6,
        elem_id="bible",
    )
    # under the bible box: its summary, then style presets and the writer's sample
    bible_summary = gr.Markdown(elem_id="bible-summary")
    style = gr.CheckboxGroup(
        [(label(f"style.{preset}"), preset) for preset in PRESETS["en"]],
        label=label("style.presets"),
        elem_id="style-presets",
    )
    style_sample = gr.Textbox(
        label=label("style.sample"),
        placeholder=label("style.sample_placeholder"),
        lines=3,
        elem_id="style-sample",
    )
    with gr.Row():
        total = gr.Number(
            label=label("brief.total"), value=1000, precision=0, minimum=1, elem_id="total-words"
        )
        single = gr.Checkbox(label=label("brief.single"), elem_id="single-pass")
    # a hidden field, not a gr.State: the page's script must read it (states stay on the server)
    suggested_total = gr.Number(None, visible=False, elem_id="suggested-total")
    draft = gr.Button(label("brief.draft"), variant="primary", elem_id="brief-draft")
    return BriefWidgets(
        inputs=BriefInputs(instruction, bible, total, single, draft, book_title),
        bible_summary=bible_summary,
        style=style,
        style_sample=style_sample,
        suggested_total=suggested_total,
    )


# -- what shows a project ---------------------------------------------------------------------
def view_of(w: BriefWidgets, project: Project | None) -> dict:
    brief = w.inputs
    return {
        brief.instruction: project.instruction if project else "",
        brief.bible: project.bible if project else "",
        brief.total: project.target_words if project else 1000,
        brief.single: project.settings.mode == "single" if project else False,
        w.bible_summary: bible_style.summary(project.bible if project else ""),
        w.style: list(project.settings.style) if project else [],
        w.style_sample: project.settings.style_sample if project else "",
        brief.book_title: project.book_title if project else "",
    }


# -- handlers ---------------------------------------------------------------------------------
def save_field(studio: Studio, name: str, project_id, value, request: gr.Request = None) -> None:
    """One brief field lost focus or changed: save that field alone. Events of different fields
    run at once, so each writes only its own value and never undoes another's newer one; each
    is refused when another tab changed the brief since this page showed it."""
    if project_id is None:
        return
    project = studio.project(project_id)
    if name == "total":
        if int(value or 0) <= 0:
            raise UserError(key="error.total_positive")
        fields = {"target_words": int(value)}
    elif name == "single":
        mode = "single" if value else "agentwrite"
        fields = {"settings": project.settings.model_copy(update={"mode": mode})}
    else:
        fields = {"instruction": value or ""}
    service.save_brief_fields(studio, service.page_of(request), project_id, **fields)


def save_title(studio: Studio, project_id, title) -> dict:
    """The writer's own title for the book (exports and the project list use it); the project
    list as it is then."""
    if project_id is None:
        return gr.skip()
    project = studio.project(project_id)
    title = " ".join((title or "").split())[:200]
    if title and title != project.book_title:
        studio.store.update_project(project, title=title)
    return studio.project_table()


def instruction_done(
    studio: Studio,
    w: BriefWidgets,
    project_list: gr.Dataframe,
    project_id,
    instruction,
    total,
    request: gr.Request = None,
) -> dict:
    """Save the instruction (and refresh `project_list`, the shared project list); a new
    instruction that names a length suggests it as Total words, unless the writer already
    typed a total of their own. APPLY_SUGGESTED_TOTAL then decides in the page, where the
    writer's typing is visible, and Total words' change event saves what the field ends up
    holding, so the page and the database always agree."""
    if project_id is None:
        return {}
    project = studio.project(project_id)
    words = words_from_instruction(instruction or "")
    typed_own_total = int(total or 0) != project.target_words
    suggested = None
    if words and (instruction or "") != project.instruction and not typed_own_total:
        suggested = words
    save_field(studio, "instruction", project_id, instruction, request)
    return {w.suggested_total: suggested, project_list: studio.project_table()}


# The suggestion lands in the page only if the writer is not typing in Total words: their own
# value always wins (a server update arriving mid-typing would merge with their keystrokes).
APPLY_SUGGESTED_TOTAL = """(suggested, current) => {
  const typing = Boolean(document.activeElement?.closest('#total-words'));
  return (suggested === null || typing) ? current : suggested;
}"""


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: BriefWidgets, shared: Shared) -> None:
    project_id, brief = shared.open.project_id, w.inputs
    brief.instruction.blur(
        user_errors(functools.partial(instruction_done, studio, w, shared.project_list)),
        [project_id, brief.instruction, brief.total],
        [w.suggested_total, shared.project_list],
        **INSTANT,
    ).then(None, [w.suggested_total, brief.total], [brief.total], js=APPLY_SUGGESTED_TOTAL)
    for name, component in (("total", brief.total), ("single", brief.single)):
        component.change(
            user_errors(functools.partial(save_field, studio, name)),
            [project_id, component],
            None,
            **INSTANT,
        )
    brief.bible.blur(
        user_errors(functools.partial(bible_style.bible_done, studio)),
        [project_id, brief.bible],
        [w.bible_summary],
        **INSTANT,
    )
    brief.book_title.blur(
        user_errors(functools.partial(save_title, studio)),
        [project_id, brief.book_title],
        [shared.project_list],
        **INSTANT,
    )
    w.style.input(
        user_errors(functools.partial(bible_style.save_style, studio)),
        [project_id, w.style],
        None,
        **INSTANT,
    )
    w.style_sample.blur(
        user_errors(functools.partial(bible_style.save_sample, studio)),
        [project_id, w.style_sample],
        None,
        **INSTANT,
    )
