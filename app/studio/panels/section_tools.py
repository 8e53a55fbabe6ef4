"""One section's tools: rewrite with an instruction (and see the difference before accepting),
regenerate, extend, edit by hand, its version history, and "rewrite from here to the end".

The section menu's values are stable section ids, so a menu choice keeps pointing at the same
section while rows are inserted or moved in the plan.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import gradio as gr
from gradio.components import Component

from app.studio import render, service
from app.studio.events import INSTANT, user_errors
from app.studio.feature import RunDisplay, SectionRewrite, Shared, menu_now
from app.studio.language import current as current_language
from app.studio.language import info, label, t, warning
from app.studio.state import Studio
from app.studio.target import Target
from engine.errors import UserError
from engine.metrics import count_words
from engine.projects.revise import (
    Passage,
    RevisionReady,
    accept_rewrite,
    extend_section,
    find_passage,
    proposal_current,
    regenerate_section,
    rewrite_section,
)
from engine.projects.service import continue_from, restore_version, save_edit, version_line
from engine.store.database import Project
from engine.writing.diff import diff_html, diff_stats, word_diff
from engine.writing.events import Ended, Failed, SectionProgress, SectionStarted


@dataclass
class SectionWidgets:
    """One section's tools (an accordion under the Write tab's document)."""

    section: gr.Dropdown
    revise_instruction: gr.Textbox
    passage_start: gr.Textbox
    passage_end: gr.Textbox
    revise: gr.Button
    revise_summary: gr.Markdown
    revise_diff: gr.HTML
    revise_accept: gr.Button
    revise_discard: gr.Button
    proposal: gr.State
    selection: gr.State
    shown_section: gr.State  # the section whose text the text box holds
    menus_sent: gr.State  # the menus' choices last refreshed into the page
    regenerate: gr.Button
    extend_words: gr.Number
    extend: gr.Button
    continue_from: gr.Button
    section_text: gr.Textbox
    save_section: gr.Button
    history: gr.Dropdown
    compare_version: gr.Button
    restore_section: gr.Button
    revise_box: gr.Group
    tools: gr.Accordion

    refreshes_after_run: ClassVar[bool] = True

    def view_components(self) -> list[Component]:
        return [
            self.section,
            self.section_text,
            self.history,
            self.revise_box,
            self.proposal,
            self.selection,
            self.shown_section,
            self.revise_instruction,
            self.passage_start,
            self.passage_end,
            self.extend_words,
        ]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        return view_of(studio, self, project)

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        wire(studio, self, shared)

    def after_run(self, studio: Studio, project_id: int | None) -> dict:
        """After a generation or an edit: the section menu keeps its choice."""
        if project_id is None:
            return {}
        return {self.section: section_menu(studio, studio.project(project_id), keep_choice=True)}

    def after_run_components(self) -> list[Component]:
        return [self.section]

    def rewrite_flow(self) -> SectionRewrite:
        """The rewrite-and-diff flow, for another panel to propose a passage's rewrite."""

        def stream(studio: Studio, run: RunDisplay, target, section_id, instruction, selection):
            return rewrite(studio, self, run, target, section_id, instruction, "", "", selection)

        outputs = [self.revise_box, self.revise_summary, self.revise_diff, self.proposal]
        return SectionRewrite(
            self.tools, self.section, self.revise_instruction, stream, [*outputs, self.history]
        )


def layout() -> SectionWidgets:
    with gr.Accordion(
        label("section.tools"),
        open=False,
        elem_id="section-tools",
    ) as tools:
        section = gr.Dropdown(label=label("section.select"), elem_id="section-select")
        revise_instruction = gr.Textbox(
            label=label("section.instruction"),
            placeholder=label("section.instruction_placeholder"),
            elem_id="revise-instruction",
        )
        with gr.Row():
            passage_start = gr.Textbox(
                label=label("section.passage_start"),
                elem_id="passage-start",
                scale=2,
            )
            passage_end = gr.Textbox(
                label=label("section.passage_end"), elem_id="passage-end", scale=2
            )
            revise = gr.Button(
                label("section.rewrite"), variant="primary", elem_id="revise", scale=1
            )
        with gr.Group(visible=False, elem_id="revise-box") as revise_box:
            revise_summary = gr.Markdown(elem_id="revise-summary")
            revise_diff = gr.HTML(elem_id="revise-diff")
            with gr.Row():
                revise_accept = gr.Button(
                    label("section.accept"), variant="primary", elem_id="revise-accept"
                )
                revise_discard = gr.Button(label("section.discard"), elem_id="revise-discard")
        proposal = gr.State(None)
        selection = gr.State(None)
        shown_section = gr.State(None)
        menus_sent = gr.State(None)
        with gr.Row():
            regenerate = gr.Button(label("section.regenerate"), elem_id="regenerate")
            extend_words = gr.Number(
                label=label("section.extend_words"),
                value=100,
                precision=0,
                minimum=1,
                elem_id="extend-words",
            )
            extend = gr.Button(label("section.extend"), elem_id="extend")
            continue_from = gr.Button(label("section.continue_from"), elem_id="continue-from")
        section_text = gr.Textbox(
            label=label("section.text"),
            lines=8,
            elem_id="section-text",
        )
        save_section = gr.Button(label("section.save"), elem_id="save-section")
        with gr.Row():
            history = gr.Dropdown(
                label=label("section.history"), elem_id="section-history", scale=3
            )
            compare_version = gr.Button(
                label("section.compare"), elem_id="compare-version", scale=1
            )
            restore_section = gr.Button(
                label("section.restore"), elem_id="restore-section", scale=1
            )
    return SectionWidgets(
        section=section,
        revise_instruction=revise_instruction,
        passage_start=passage_start,
        passage_end=passage_end,
        revise=revise,
        revise_summary=revise_summary,
        revise_diff=revise_diff,
        revise_accept=revise_accept,
        revise_discard=revise_discard,
        proposal=proposal,
        selection=selection,
        shown_section=shown_section,
        menus_sent=menus_sent,
        regenerate=regenerate,
        extend_words=extend_words,
        extend=extend,
        continue_from=continue_from,
        section_text=section_text,
        save_section=save_section,
        history=history,
        compare_version=compare_version,
        restore_section=restore_section,
        revise_box=revise_box,
        tools=tools,
    )


# -- what shows a project ---------------------------------------------------------------------
def view_of(studio: Studio, w: SectionWidgets, project: Project | None) -> dict:
    return {
        w.section: section_menu(studio, project),
        w.section_text: "",
        w.history: gr.update(choices=[], value=None),
        w.revise_box: gr.update(visible=False),
        w.proposal: None,
        w.selection: None,
        w.shown_section: None,
        # nothing typed for the last project carries over to this one
        w.revise_instruction: "",
        w.passage_start: "",
        w.passage_end: "",
        w.extend_words: 100,
    }


def section_menu(studio: Studio, project: Project | None, keep_choice: bool = False) -> dict:
    """The section menu (values: section ids); after a generation the choice stays."""
    choices = _section_choices(studio, project)
    return gr.update(choices=choices) if keep_choice else gr.update(choices=choices, value=None)


def _section_choices(studio: Studio, project: Project | None) -> list[tuple[str, str]]:
    plan = studio.store.plan(project) if project else None
    return [(f"{i + 1}. {s.title}", s.id) for i, s in enumerate(plan.sections)] if plan else []


def _history_menu(studio: Studio, project: Project, section_id: str) -> dict:
    choices, current = _history_choices(studio, project, section_id)
    return gr.update(choices=choices, value=current)


def _history_choices(
    studio: Studio, project: Project, section_id: str
) -> tuple[list[tuple[str, int]], int | None]:
    """The section's versions, newest first, each with its kind (written, rewrite, hand
    edit, restore) and time; and the current one."""
    history = studio.store.section_history(project, section_id)
    current = next(
        (s.version_id for s in studio.store.sections(project) if s.section_id == section_id),
        None,
    )
    language = current_language()
    choices = [
        (version_line(v, v.version_id == current, language), v.version_id)
        for v in reversed(history)
    ]
    return choices, current


def menus_now(studio: Studio, project_id, section_id, version_id, sent) -> tuple:
    """On the page's refresh: the section menu and the chosen section's history as other tabs
    left them (the writer's choices stay). A project deleted meanwhile changes nothing here:
    the project list says so."""
    sent = sent or {}
    try:
        project = studio.project(project_id)
    except UserError:
        return gr.skip(), gr.skip(), sent
    sections, sent_sections = menu_now(
        _section_choices(studio, project), sent.get("sections"), section_id
    )
    history, sent_history = (gr.skip(), None)
    if section_id:
        choices, _ = _history_choices(studio, project, str(section_id))
        history, sent_history = menu_now(choices, sent.get("history"), version_id)
    return sections, history, {"sections": sent_sections, "history": sent_history}


def _chosen(studio: Studio, project_id, section_id) -> tuple[Project, str]:
    project = studio.project(project_id)
    if not section_id:
        raise UserError(key="error.choose_section")
    return project, str(section_id)


def _current_text(studio: Studio, project: Project, section_id: str) -> str:
    current = {s.section_id: s for s in studio.store.sections(project)}.get(section_id)
    return current.text if current else ""


# -- handlers ---------------------------------------------------------------------------------
def show_section(
    studio: Studio,
    w: SectionWidgets,
    project_id,
    section_id,
    text=None,
    shown=None,
    request: gr.Request = None,
) -> dict:
    """Show the chosen section's text. An unsaved hand edit of the section shown before is
    kept first, as a hand-edit version of that section (nothing typed is lost by a switch);
    if that save is refused (the section changed in another tab), the menu goes back to it
    and the typed text stays, with the message."""
    if project_id is None:
        return {w.section_text: "", w.history: gr.update(choices=[], value=None)}
    project = studio.project(project_id)
    left, loaded = (shown or [None, None])[:2]
    if left and str(left) == str(section_id or ""):
        return {}  # the menu came back to the section the box holds: keep what is typed
    now = {v.section_id: v for v in studio.store.sections(project)}
    # a box loaded from the section's current text and typed in since: keep what was typed
    # (a box a generation made stale since is not saved over the new text)
    current = now.get(str(left)) if left else None
    typed = (text or "").strip() and current is not None and text != current.text
    if typed and current.version_id == loaded:
        try:
            service.checked(
                studio,
                service.page_of(request),
                project,
                lambda based_on: save_edit(studio.store, project, str(left), text, based_on),
                sections=(str(left),),
            )
            info("section.kept_edit")
        except UserError as error:
            gr.Warning(error.text(current_language()))
            return {w.section: left}
    if not section_id:
        return {
            w.section_text: "",
            w.history: gr.update(choices=[], value=None),
            w.shown_section: None,
        }
    chosen = {v.section_id: v for v in studio.store.sections(project)}.get(str(section_id))
    return {
        w.section_text: chosen.text if chosen else "",
        w.history: _history_menu(studio, project, str(section_id)),
        w.selection: None,
        w.shown_section: [str(section_id), chosen.version_id if chosen else None],
    }


def remember_selection(event: gr.SelectData):
    """A passage selected in the section's text box (start, end), for Rewrite."""
    index = event.index
    if isinstance(index, list | tuple) and len(index) == 2 and index[1] > index[0]:
        return [int(index[0]), int(index[1])]
    return None


def _passage(text: str, first: str, last: str, selection) -> Passage | None:
    if (first or "").strip():
        return find_passage(text, first, last or "")
    if selection and 0 <= selection[0] < selection[1] <= len(text):
        return Passage(selection[0], selection[1])
    return None


def rewrite(
    studio: Studio,
    w: SectionWidgets,
    run: RunDisplay,
    target,
    section_id,
    instruction,
    first,
    last,
    selection,
) -> Iterator[dict]:
    """Stream a rewrite of a section of the project pressed on (`target`), then show its
    difference from the current text with Accept/Discard."""
    pressed, page = service.pressed_project(studio, target)
    based_on = Target.parse(target).based_on()
    project, section_id = _chosen(studio, pressed.id, section_id)
    passage = _passage(_current_text(studio, project, section_id), first, last, selection)
    ready: RevisionReady | None = None
    heading, text, line = "", "", t("write.waiting")

    def start(store, backend):
        current = store.project_by_id(project.id)
        return rewrite_section(
            store, current, backend, section_id, instruction, passage, based_on=based_on
        )

    for batch in studio.follow(project, start, page):
        for event in batch:
            if isinstance(event, SectionStarted):
                title = t("section.rewrite_of", number=event.index + 1)
                heading = render.active_heading(event.index, event.count, title)
                line = t("section.rewriting", number=event.index + 1, words=event.target_words)
            elif isinstance(event, SectionProgress):
                text = event.text
            elif isinstance(event, RevisionReady):
                ready = event
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Ended) and event.stopped:
                line = t("section.rewrite_stopped")
        # the rewrite streams into the proposal box, where its difference will show
        yield {
            run.active_heading: heading,
            run.progress: line,
            w.revise_box: gr.update(visible=True),
            w.revise_summary: heading,
            w.revise_diff: f'<div class="lw-diff lw-streaming">{render.active_text(text)}</div>',
        }
    if ready is None:
        yield {run.active_heading: "", run.active: "", run.progress: line, **_put_away(w)}
        return
    yield {
        run.active_heading: "",
        run.active: "",
        run.progress: t("section.rewrite_ready"),
        **_proposal_view(w, ready.before, ready.after, t("section.the_rewrite")),
        w.proposal: {"section_id": section_id, "version_id": ready.version_id},
        w.history: _history_menu(studio, project, section_id),
    }


def _proposal_view(w: SectionWidgets, before: str, after: str, what: str) -> dict:
    inserted, deleted = diff_stats(word_diff(before, after))
    summary = t(
        "section.diff_summary",
        what=what,
        words=f"{count_words(after):,}",
        before=f"{count_words(before):,}",
        added=f"{inserted:,}",
        removed=f"{deleted:,}",
    )
    return {
        w.revise_box: gr.update(visible=True),
        w.revise_summary: summary,
        w.revise_diff: diff_html(before, after),
    }


def accept(
    studio: Studio,
    w: SectionWidgets,
    run: RunDisplay,
    project_id,
    proposal,
    request: gr.Request = None,
) -> dict:
    """Accept the rewrite on screen: refused when its section changed since it was made (or
    since the page showed it); a proposal that can no longer be accepted is cleared."""
    if not proposal:
        raise UserError(key="error.no_rewrite")
    project = studio.project(project_id)
    store = studio.store
    section_id, version_id = proposal["section_id"], int(proposal["version_id"])
    if "compared_with" in proposal:  # an older version compared: Accept restores it
        still = store.versions(project).sections.get(section_id) == proposal["compared_with"]

        def write(based_on):
            return restore_version(store, project, section_id, version_id, based_on)
    else:  # a rewrite: accepted while the text it was made from is still current
        still = proposal_current(store, project, version_id)

        def write(based_on):
            return accept_rewrite(store, project, section_id, version_id, based_on)

    if not still:
        warning("section.proposal_gone")
        return {**_refreshed(studio, w, run, project, section_id), **_cleared(w, run)}
    service.checked(studio, service.page_of(request), project, write, sections=(section_id,))
    info("section.accepted")
    return {**_refreshed(studio, w, run, project, section_id), **_cleared(w, run)}


def _put_away(w: SectionWidgets) -> dict:
    return {w.revise_box: gr.update(visible=False), w.revise_summary: "", w.revise_diff: ""}


def _cleared(w: SectionWidgets, run: RunDisplay) -> dict:
    """No proposal on screen, and no line that says one is ready."""
    return {w.revise_box: gr.update(visible=False), w.proposal: None, run.progress: ""}


def discard(studio: Studio, w: SectionWidgets, project_id, proposal) -> dict:
    if not proposal:
        raise UserError(key="error.no_rewrite_discard")
    info("section.kept")
    project = studio.project(project_id)
    return {
        w.history: _history_menu(studio, project, proposal["section_id"]),
        w.revise_box: gr.update(visible=False),
        w.proposal: None,
    }


def compare(studio: Studio, w: SectionWidgets, project_id, section_id, version_id) -> dict:
    """The difference between a version from the history and the current text."""
    project, section_id = _chosen(studio, project_id, section_id)
    versions = {v.version_id: v for v in studio.store.section_history(project, section_id)}
    if version_id is None or int(version_id) not in versions:
        raise UserError(key="error.choose_version")
    chosen = versions[int(version_id)]
    now = {s.section_id: s for s in studio.store.sections(project)}.get(section_id)
    current = now.text if now else ""
    what = t("section.compare_what", version=chosen.version_id)
    # read as Accept would change it: the current text goes (red), the chosen one comes (green)
    return {
        **_proposal_view(w, current, chosen.text, what),
        w.proposal: {
            "section_id": section_id,
            "version_id": chosen.version_id,
            "compared_with": now.version_id if now else None,
        },
    }


def save_text(
    studio: Studio,
    w: SectionWidgets,
    run: RunDisplay,
    project_id,
    section_id,
    text,
    request: gr.Request = None,
) -> dict:
    """The writer's own text, saved as a version of kind "edit": refused when the section
    changed since the page showed it. A proposal or comparison on screen is cleared, since it
    was made from the text this edit replaced."""
    project, section_id = _chosen(studio, project_id, section_id)
    service.checked(
        studio,
        service.page_of(request),
        project,
        lambda based_on: save_edit(studio.store, project, section_id, text or "", based_on),
        sections=(section_id,),
    )
    info("section.saved")
    return {**_refreshed(studio, w, run, project, section_id), **_cleared(w, run)}


def restore(
    studio: Studio,
    w: SectionWidgets,
    run: RunDisplay,
    project_id,
    section_id,
    version_id,
    request: gr.Request = None,
) -> dict:
    """Bring a version back as a new version of kind "restore": refused when the section
    changed since the page showed it. A comparison on screen is cleared."""
    project, section_id = _chosen(studio, project_id, section_id)
    if version_id is None:
        raise UserError(key="error.choose_version")
    service.checked(
        studio,
        service.page_of(request),
        project,
        lambda based_on: restore_version(
            studio.store, project, section_id, int(version_id), based_on
        ),
        sections=(section_id,),
    )
    info("section.restored", version=version_id)
    return {**_refreshed(studio, w, run, project, section_id), **_cleared(w, run)}


def _refreshed(
    studio: Studio, w: SectionWidgets, run: RunDisplay, project: Project, section_id: str
) -> dict:
    document, _ = service.document_html(studio, project, studio.store.plan(project))
    now = {v.section_id: v for v in studio.store.sections(project)}.get(section_id)
    return {
        run.document: document,
        w.section_text: now.text if now else "",
        w.history: _history_menu(studio, project, section_id),
        w.shown_section: [section_id, now.version_id if now else None],
    }


def regenerate(
    studio: Studio, run: RunDisplay, kind: str, target, section_id, extra
) -> Iterator[dict]:
    pressed, page = service.pressed_project(studio, target)
    based_on = Target.parse(target).based_on()
    project, section_id = _chosen(studio, pressed.id, section_id)
    plan = studio.store.plan(project)

    def start(store, backend):
        current = store.project_by_id(project.id)
        if kind == "extend":
            return extend_section(
                store, current, backend, section_id, int(extra or 0), based_on=based_on
            )
        return regenerate_section(store, current, backend, section_id, based_on=based_on)

    yield from service.stream_run(studio, run, project, plan, start, page)
    service.wrote(studio, page, project, sections=(section_id,))


def rewrite_to_end(studio: Studio, run: RunDisplay, target, section_id) -> Iterator[dict]:
    """Write this section and every one after it again (after the plan's second half changed)."""
    pressed, page = service.pressed_project(studio, target)
    based_on = Target.parse(target).based_on()
    project, section_id = _chosen(studio, pressed.id, section_id)
    if studio.busy(project):
        raise UserError(key="error.stop_first")
    index = studio.store.plan(project).position(section_id)
    store = studio.store
    with store.transaction():
        continue_from(store, project, index, based_on)
        after = store.versions(project)
    service.wrote(studio, page, project, after, all_sections=True)
    info("section.rewriting_from", number=index + 1)
    yield from service.write(
        studio,
        run,
        True,
        Target.of(project, service.advanced(based_on, after, all_sections=True)).pressed(page, ""),
        project.instruction,
        project.bible,
        project.target_words,
        project.settings.mode == "single",
    )


# -- wiring -----------------------------------------------------------------------------------
def wire(studio: Studio, w: SectionWidgets, shared: Shared) -> None:
    run, project_id, then_refresh = shared.run, shared.open.project_id, shared.then_refresh
    stream = run.components()

    w.section.change(
        user_errors(functools.partial(show_section, studio, w)),
        [project_id, w.section, w.section_text, w.shown_section],
        [w.section, w.section_text, w.history, w.selection, w.shown_section],
        **INSTANT,
    )
    w.section_text.select(remember_selection, None, [w.selection], **INSTANT)
    for refresh in shared.page_refresh.triggers():
        refresh(
            functools.partial(menus_now, studio),
            [project_id, w.section, w.history, w.menus_sent],
            [w.section, w.history, w.menus_sent],
            **INSTANT,
        )
    service.pressing(
        studio,
        shared,
        w.revise.click,
        "rewrite",
        run.progress,
        fn=functools.partial(rewrite, studio, w, run),
        inputs=[w.section, w.revise_instruction, w.passage_start, w.passage_end, w.selection],
        outputs=[*stream, w.revise_box, w.revise_summary, w.revise_diff, w.proposal, w.history],
        show_progress_on=[run.progress],
    )
    proposal_out = [
        *(run.document, w.section_text, w.history, w.revise_box, w.proposal, run.progress),
        w.shown_section,
    ]
    then_refresh(
        w.revise_accept.click(
            user_errors(functools.partial(accept, studio, w, run)),
            [project_id, w.proposal],
            proposal_out,
            **INSTANT,
        )
    )
    w.revise_discard.click(
        user_errors(functools.partial(discard, studio, w)),
        [project_id, w.proposal],
        [w.history, w.revise_box, w.proposal],
        **INSTANT,
    )
    w.compare_version.click(
        user_errors(functools.partial(compare, studio, w)),
        [project_id, w.section, w.history],
        [w.revise_box, w.revise_summary, w.revise_diff, w.proposal],
        **INSTANT,
    )
    edit_out = [
        *(run.document, w.section_text, w.history, w.revise_box, w.proposal, run.progress),
        w.shown_section,
    ]
    then_refresh(
        w.save_section.click(
            user_errors(functools.partial(save_text, studio, w, run)),
            [project_id, w.section, w.section_text],
            edit_out,
            **INSTANT,
        )
    )
    then_refresh(
        w.restore_section.click(
            user_errors(functools.partial(restore, studio, w, run)),
            [project_id, w.section, w.history],
            edit_out,
            **INSTANT,
        )
    )
    for button, kind in ((w.regenerate, "regenerate"), (w.extend, "extend")):
        then_refresh(
            service.pressing(
                studio,
                shared,
                button.click,
                "rewrite",
                run.progress,
                fn=functools.partial(regenerate, studio, run, kind),
                inputs=[w.section, w.extend_words],
                outputs=stream,
                show_progress_on=[run.progress],
            )
        )
    then_refresh(
        service.pressing(
            studio,
            shared,
            w.continue_from.click,
            "write",
            run.progress,
            fn=functools.partial(rewrite_to_end, studio, run),
            inputs=[w.section],
            outputs=stream,
            show_progress_on=[run.progress],
        )
    )
