"""The studio's shared actions, which panels call and no panel owns: save the brief, compose
the document, and run a generation into the run display (Write, Resume, and the section tools'
regenerate, extend and "rewrite to the end" all stream the same way).

Functions here take the components they fill as typed arguments (a RunDisplay), never a panel.

Every generating action is wired through `pressing`: an instant press step records the project
it was pressed on (a Target) and shows its place in the queue; the queued step applies to that
project whenever its turn comes, and updates the page only while the page still shows it.
"""

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import gradio as gr
from gradio.components import Component

from app.studio import render
from app.studio.events import GENERATING, INSTANT, refused, user_errors_stream
from app.studio.feature import RunDisplay, Shared
from app.studio.language import info, t
from app.studio.state import Studio
from app.studio.target import Target
from engine.errors import UserError
from engine.planning.title import draft_title
from engine.projects import service as projects
from engine.projects.run import resume_point, run_project
from engine.projects.service import (
    Progress,
    check_bible,
    check_brief,
    finished_words,
    single_pass_plan,
)
from engine.schema import Plan
from engine.store.database import Project, Recap, Versions
from engine.writing.events import (
    ChapterPlanned,
    ChapterPlanning,
    Ended,
    Failed,
    LoopCut,
    RecapFinished,
    RecapStarted,
    RunFinished,
    SectionFinished,
    SectionProgress,
    SectionStarted,
)

ETA_AFTER_WORDS = 40  # a section's words before its speed and time left show


# -- writes based on what the page showed ---------------------------------------------------
T = TypeVar("T")


def page_of(request: gr.Request | None) -> str:
    """The browser page (tab) a handler answers ("" for callers without one)."""
    return (request.session_hash or "") if request is not None else ""


def advanced(
    based_on: Versions | None,
    after: Versions,
    *,
    brief: bool = False,
    plan: bool = False,
    sections: tuple[str, ...] = (),
    all_sections: bool = False,
) -> Versions | None:
    """`based_on` moved on by a write of its own page: the parts it wrote take their versions
    after the write; every other part keeps the version the page saw (another tab's later
    write there is still refused)."""
    if based_on is None:
        return None
    texts = dict(after.sections if all_sections else based_on.sections)
    for section_id in sections:
        if section_id in after.sections:
            texts[section_id] = after.sections[section_id]
        else:
            texts.pop(section_id, None)
    return Versions(
        based_on.project_id,
        after.brief if brief else based_on.brief,
        after.plan if plan else based_on.plan,
        texts,
    )


def _parts(
    after: Versions,
    *,
    brief: bool = False,
    plan: bool = False,
    sections: tuple[str, ...] = (),
    all_sections: bool = False,
) -> dict[str, int | None]:
    """The written parts' versions after a write, keyed as Target.versions is."""
    parts: dict[str, int | None] = {}
    if brief:
        parts["brief"] = after.brief
    if plan:
        parts["plan"] = after.plan
    for section_id in after.sections if all_sections else sections:
        parts[f"section:{section_id}"] = after.sections.get(section_id)
    return parts


def with_own_writes(studio: Studio, target: Target) -> Target:
    """A queued job's target, with the parts its own page wrote since the press (say, the
    Total words that the instruction suggested landing just after Draft was pressed) taken as
    they are now: the job builds on its own page's work, and is still refused when another tab
    or window wrote last."""
    based_on = target.based_on()
    own = studio.own.get((target.page, target.project_id))
    if based_on is None or not own:
        return target
    now = studio.store.versions(studio.project(target.project_id))
    brief = now.brief if own.get("brief") == now.brief else based_on.brief
    plan = now.plan if "plan" in own and own["plan"] == now.plan else based_on.plan
    texts = dict(based_on.sections)
    for section_id, version_id in now.sections.items():
        if own.get(f"section:{section_id}") == version_id:
            texts[section_id] = version_id
    return target.with_versions(Versions(based_on.project_id, brief, plan, texts))


def checked(
    studio: Studio,
    page: str,
    project: Project,
    write: Callable[[Versions | None], T],
    **parts,
) -> T:
    """Run `write(based_on)` (an engine write that refuses a stale basis) with the page's
    basis, and advance the basis by the `parts` it wrote (see `advanced`). The page's writes
    run one at a time, so each is based on the one before."""
    with studio.page_lock(page):
        based_on = studio.basis(page, project.id)
        store = studio.store
        with store.transaction():
            result = write(based_on)
            after = store.versions(project)
        if based_on is not None:
            studio.set_basis(page, advanced(based_on, after, **parts))
        studio.own_write(page, project.id, _parts(after, **parts))
    return result


def save_brief_fields(studio: Studio, page: str, project_id, **fields) -> Project | None:
    """Save brief fields typed in `page` (None when no project is open). Fields equal to the
    stored ones save nothing and check nothing; others are refused when the brief changed
    since the page showed it."""
    if project_id is None:
        return None
    project = studio.project(project_id)
    if all(getattr(project, key) == value for key, value in fields.items()):
        return project
    return checked(
        studio,
        page,
        project,
        lambda based_on: projects.save_brief(studio.store, project, based_on, **fields),
        brief=True,
    )


# -- the brief --------------------------------------------------------------------------------
def brief_fields(project: Project, instruction, bible, total, single) -> dict:
    check_bible(bible or "")
    target = int(total or 0)
    if target <= 0:
        raise UserError(key="error.total_positive")
    settings = project.settings.model_copy(update={"mode": "single" if single else "agentwrite"})
    return {
        "instruction": instruction or "",
        "bible": bible or "",
        "target_words": target,
        "settings": settings,
    }


def save_brief(
    studio: Studio,
    project_id: int | None,
    instruction,
    bible,
    total,
    single,
    based_on: Versions | None = None,
    page: str = "",
) -> tuple[Project, Versions | None] | tuple[None, None]:
    """Save the brief as typed with a generation's press (`based_on`: what the press saw, from
    `page`); returns the project and the basis moved on by this write. (None, None) when no
    project is open. Refused when the brief changed since the press."""
    if project_id is None:
        return None, None
    project = studio.project(project_id)
    fields = brief_fields(project, instruction, bible, total, single)
    if all(getattr(project, key) == value for key, value in fields.items()):
        return project, based_on
    store = studio.store
    with store.transaction():
        project = projects.save_brief(store, project, based_on, **fields)
        after = store.versions(project)
    wrote(studio, page, project, after, brief=True)
    return project, advanced(based_on, after, brief=True)


def wrote(studio: Studio, page: str, project: Project, after: Versions | None = None, **parts):
    """A job `page` pressed wrote `parts` of the project: the page's basis moves on by them
    (when the page still shows the project)."""
    after = after or studio.store.versions(project)
    studio.own_write(page, project.id, _parts(after, **parts))
    based_on = studio.basis(page, project.id)
    if based_on is not None:
        studio.set_basis(page, advanced(based_on, after, **parts))


# -- the document -----------------------------------------------------------------------------
def _titles(project: Project, plan: Plan | None) -> list[str]:
    """Section headings shown in the document ("" each when headings are off)."""
    rows = plan.sections if plan else []
    headings = project.settings.section_headings and len(rows) > 1
    return [row.title if headings and row.heading else "" for row in rows]


def document_html(
    studio: Studio, project: Project, plan: Plan | None
) -> tuple[str, tuple[int, str] | None]:
    """Finished sections' HTML, and the row and text of a section stopped part-way (if any)."""
    finished, partial = {}, None
    for section in studio.store.sections(project, plan):
        if section.status == "done":
            finished[section.section_id] = section.text
        elif section.text.strip() and partial is None:
            partial = (section.idx, section.text)
    recaps = studio.store.recaps(project) if plan is not None and plan.two_level else {}
    return compose(project, plan, finished, recaps), partial


def compose(
    project: Project, plan: Plan | None, finished: dict[str, str], recaps: dict[str, Recap]
) -> str:
    """The document: the finished texts (by section id) in plan order, grouped by chapter with
    their recaps in a two-level plan (a chapter shows once it has text or a recap)."""
    if plan is None:
        return render.empty_document()
    titles = _titles(project, plan)
    shown = [
        (i, titles[i], finished[s.id]) for i, s in enumerate(plan.sections) if s.id in finished
    ]
    if not plan.two_level:
        return render.document_html(shown)
    chapters = {
        c.id: render.ChapterView(number, c.title) for number, c in enumerate(plan.chapters, 1)
    }
    for i, title, text in shown:
        chapters[plan.sections[i].chapter].sections.append((i, title, text))
    for chapter_id, recap in recaps.items():
        if chapter_id in chapters:
            chapters[chapter_id].recap, chapters[chapter_id].edited = recap.text, recap.edited
    return render.book_html([c for c in chapters.values() if c.sections or c.recap])


# -- a generation ---------------------------------------------------------------------------
def write(
    studio: Studio, run: RunDisplay, resume: bool, target, instruction, bible, total, single
) -> Iterator[dict]:
    """Write (or resume) the project pressed on (`target`) from its saved plan, streaming into
    the document.

    The plan is read from the store when the run starts, so a Write pressed while a plan is
    still drafting waits in the queue and then writes the new plan."""
    target = Target.parse(target)
    project_id, page = (target.project_id, target.page) if target else (None, "")
    based_on = target.based_on() if target else None
    project, based_on = save_brief(
        studio, project_id, instruction, bible, total, single, based_on, page
    )
    if project is None:
        raise UserError(key="error.open_project")
    store = studio.store
    if single:
        plan, based_on = _single_pass_plan(studio, project, based_on, page)
    else:
        plan = store.plan(project)
        if plan is None:
            raise UserError(key="error.plan_empty_write")
    check_brief(project.instruction, project.bible, plan.total_words)
    point = resume_point(store, project, plan)
    has_text = bool(point.partial) or any(text is not None for text in point.texts)
    if not resume and has_text:
        raise UserError(key="error.has_text")
    if resume and point.complete and not _recaps_missing(studio, project, plan):
        info("write.all_written")
        return

    def start(store, backend):
        return run_project(store, store.project_by_id(project.id), backend, based_on=based_on)

    yield from stream_run(studio, run, project, plan, start, page)
    wrote(studio, page, project, plan=True, all_sections=True)


def _recaps_missing(studio: Studio, project: Project, plan: Plan) -> bool:
    """Whether a two-level piece has a chapter without a recap (a run writes them)."""
    recaps = studio.store.recaps(project)
    return plan.two_level and any(c.id not in recaps for c in plan.chapters)


def _single_pass_plan(
    studio: Studio, project: Project, based_on: Versions | None = None, page: str = ""
) -> tuple[Plan, Versions | None]:
    """The one-row plan of single-pass mode, saved when it differs from the stored plan (a
    stored one-row plan keeps its id, and so its text); and the basis moved on by it."""
    stored = studio.store.plan(project)
    plan = single_pass_plan(project.name, project.instruction, project.target_words)
    if stored is not None and len(stored.sections) == 1:
        row = plan.sections[0].model_copy(update={"id": stored.sections[0].id})
        plan = Plan(sections=[row])
    elif stored is not None:
        info("write.single_saved")
    if plan != stored:
        store = studio.store
        with store.transaction():
            projects.save_plan(store, project, plan, based_on)
            after = store.versions(project)
        wrote(studio, page, project, after, plan=True)
        based_on = advanced(based_on, after, plan=True)
    return plan, based_on


def _chapter_line(key: str, plan: Plan, chapter_id: str, **params) -> str:
    number = plan.chapter_index(chapter_id) + 1
    return t(key, number=number, count=len(plan.chapters), **params)


def stream_run(
    studio: Studio, run: RunDisplay, project: Project, plan: Plan, start, page: str = ""
) -> Iterator[dict]:
    """Follow a writing job of `page`: finished sections join the document, the active one
    streams.

    The document is composed again only when a section or recap ends (from cached section
    HTML); while a section streams, only its own text is sent."""
    store = studio.store
    finished = {s.section_id: s.text for s in store.sections(project, plan) if s.status == "done"}
    recaps = store.recaps(project) if plan.two_level else {}
    document = compose(project, plan, finished, recaps)
    progress = Progress(plan.total_words, finished_words(store, project))
    heading, text, line = "", "", t("write.waiting")
    active: int | None = None
    used: tuple[str, ...] = ()  # the bible entries the active section's prompt carries
    done = None  # the closing line with the run's statistics, once it came
    settled = False  # a section of this run ended: its speed and time left mean something
    for batch in studio.follow(project, start, page):
        for event in batch:
            snapshot = progress.update(event)
            if isinstance(event, SectionProgress) and snapshot is not None:
                text = event.text
                # speed and time left say little over a section's first words ("5445 tok/s",
                # "50:31"): they show once a section of this run ended or this one is under way
                known = settled or event.words >= ETA_AFTER_WORDS
                line = render.progress_line(
                    snapshot.section,
                    snapshot.count,
                    snapshot.words,
                    snapshot.target,
                    snapshot.tokens_per_s if known else None,
                    snapshot.eta_s if known else None,
                )
                if plan.two_level and active is not None and active < len(plan.sections):
                    line = _chapter_line(
                        "write.in_chapter", plan, plan.sections[active].chapter, line=line
                    )
                if used:
                    line += t("write.bible_used", names=", ".join(used))
            elif isinstance(event, SectionStarted):
                inside = event.index < len(plan.sections)
                title = plan.sections[event.index].title if inside else ""
                heading = render.active_heading(event.index, event.count, title or project.name)
                text, active, used = "", event.index, tuple(event.bible)
            elif isinstance(event, SectionFinished):
                settled = True
                finished[plan.sections[event.index].id] = event.text
                document = compose(project, plan, finished, recaps)
                heading, text = "", ""
            elif isinstance(event, ChapterPlanning):
                line = _chapter_line("write.chapter_planning", plan, event.chapter_id)
            elif isinstance(event, ChapterPlanned):
                plan = studio.store.plan(project)  # new scene rows; this thread's connection
                line = _chapter_line(
                    "write.chapter_planned", plan, event.chapter_id, scenes=event.scenes
                )
            elif isinstance(event, RecapStarted):
                line = _chapter_line("write.recap_started", plan, event.chapter_id)
            elif isinstance(event, RecapFinished):
                recaps[event.chapter_id] = Recap(event.chapter_id, event.text, False)
                document = compose(project, plan, finished, recaps)
                line = _chapter_line("write.recap_finished", plan, event.chapter_id)
            elif isinstance(event, LoopCut):
                info("write.loop_cut", number=event.index + 1, words=event.kept_words)
            elif isinstance(event, RunFinished):
                stats = event.stats
                line = done = t(
                    "write.done_stats",
                    words=f"{stats.words:,}",
                    target=f"{stats.target_words:,}",
                    score=f"{stats.length_score:.1f}",
                    speed=stats.decode_tokens_per_s,
                    seconds=f"{stats.wall_s:.0f}",
                )
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Ended):
                if event.stopped:
                    line = t("write.stopped")
                    if heading and active is not None:
                        heading = render.stopped_heading(active, progress.count)
                elif heading == "" and line != done:
                    line = t("write.done_words", words=f"{progress.words:,}")
        yield {
            run.document: document,
            run.active_heading: heading,
            run.active: render.active_text(text),
            run.progress: line,
        }


# -- the book title ---------------------------------------------------------------------------
@dataclass
class Titled:
    """The book's title, drafted in a plan draft's job right after the plan."""

    title: str


def title_step(project: Project, backend) -> Iterator[Titled]:
    """The last step of a plan draft's job: a project without a title gets one, drafted once
    (a title the writer typed, or an earlier draft's, is never drafted over)."""
    if not project.title:
        yield Titled(draft_title(backend, project.instruction))


def title_drafted(studio: Studio, project: Project, title: str) -> None:
    """Keep a title drafted with the plan unless the writer typed one meanwhile."""
    if not studio.project(project.id).title:
        studio.store.update_project(project, title=title)


def title_view(studio: Studio, shared: Shared, project_id) -> dict:
    """The Brief's title box and the project list, once a draft may have titled the book."""
    if project_id is None:
        return {}
    return {
        shared.brief.book_title: studio.project(project_id).book_title,
        shared.project_list: studio.project_table(),
    }


# -- downloads --------------------------------------------------------------------------------
def hide_file() -> dict:
    """The Write tab's download field (Shared.export_file) hidden while a new file is built."""
    return gr.update(value=None, visible=False)


# the download starts by itself once the new file's link is on the page
CLICK_DOWNLOAD = """async () => {
  for (let i = 0; i < 100; i++) {
    const link = document.querySelector('#export-file a[download]');
    if (link) { link.click(); return; }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}"""


# -- a press and its queued job -------------------------------------------------------------
def pressed_project(studio: Studio, target) -> tuple[Project, str]:
    """The project a press applies to, and the page that pressed ("" for callers without
    one)."""
    target = Target.parse(target)
    return studio.project(target.project_id if target else None), target.page if target else ""


def press(studio: Studio, kind: str, target, page: str, brief: tuple | None = None) -> tuple:
    """A generating button was pressed in `page` on the open project (`target`): the pressed
    Target for the queued step, and a line naming the project and its place in the queue.

    With `brief` (instruction, bible, total, single as typed: a draft or a write reads them),
    the brief is saved here first, as one of the page's writes: so the press is based on it,
    and a field's own save arriving before or after finds it saved already."""
    target = Target.parse(target)
    if target is None:
        raise UserError(key="error.open_project")
    if brief is not None:
        fields = brief_fields(studio.project(target.project_id), *brief)
        save_brief_fields(studio, page, target.project_id, **fields)
    with studio.page_lock(page):  # after the page's own writes pressed before
        basis = studio.basis(page, target.project_id)
    if basis is not None:  # what the page shows now, its own writes included
        target = target.with_versions(basis)
    pressed = target.pressed(page, studio.press(page))
    return pressed.to_json(), queue_line(studio, kind, pressed)


def queue_line(studio: Studio, kind: str, target: Target) -> str:
    """Where the job pressed for stands: "Writing Fox: number 2 in the queue."."""
    action = t(f"queue.{kind}", name=target.name)
    return t("queue.waiting", action=action, place=studio.place(target.ticket))


def queued(studio: Studio, handler: Callable, kind: str, line: Component) -> Callable:
    """The queued step of a generating action: it waits for the model's turn, saying its
    place in `line` as it moves up; then `handler(target, *inputs)` applies to the project
    pressed on, when it is the writer's; its updates reach the page only while the page still
    shows that project (else `line` says where the result went)."""

    def run(pressed, *inputs):
        target = Target.parse(pressed)
        if target is None:  # the press was refused, and said why
            yield {}
            return

        def shown() -> bool:
            return studio.shows(target.page, target.project_id)

        with studio.turn(target.ticket) as waiting:
            studio.project(target.project_id)  # another writer's project is refused here
            said = None
            for _ in waiting:
                now = queue_line(studio, kind, target) if shown() else None
                if now is not None and now != said:
                    said = now
                    yield {line: now}
            target = with_own_writes(studio, target)
            for update in handler(target.to_json(), *inputs):
                yield update if shown() else {line: gr.skip()}  # Gradio takes {} for one value
        if not shown():
            yield {line: t("queue.done_elsewhere", name=target.name)}

    return run


def record_shown(studio: Studio, target, page: str) -> None:
    """The page opened another project (or none), or showed its project again: jobs it pressed
    for stop updating it, and its writes are based on the versions it now shows."""
    target = Target.parse(target)
    studio.show(page, target.project_id if target else None)
    shown = target.based_on() if target else None
    studio.set_basis(page, newest(studio.basis(page, target.project_id), shown) if target else None)


def newest(basis: Versions | None, shown: Versions | None) -> Versions | None:
    """What a page is based on once its target field says it shows `shown`: each part at the
    newer of the two (versions only grow). The field's change event may arrive after the
    page's own next write moved its basis on; that write is not undone by it."""
    if basis is None or shown is None or basis.project_id != shown.project_id:
        return shown
    texts = dict(shown.sections)
    for section_id, version_id in basis.sections.items():
        if section_id in texts and version_id > texts[section_id]:
            texts[section_id] = version_id
    plans = [v for v in (basis.plan, shown.plan) if v is not None]
    return Versions(
        shown.project_id, max(basis.brief, shown.brief), max(plans) if plans else None, texts
    )


# -- wiring -----------------------------------------------------------------------------------
def pressing(
    studio: Studio,
    shared: Shared,
    listener,
    kind: str,
    line: Component,
    saves_brief: bool = False,
    after_step: bool = False,
    **queued_step,
):
    """Wire a generating action on `listener` (e.g. button.click): an instant press step takes
    the open project into `shared.open.pressed` (with the brief as typed saved first, when
    `saves_brief`), shows its place in the queue in `line` and turns Stop red (`after_step`:
    the listener follows a step that opens the project, and said why when it could not, so no
    project open is not said again); then the queued
    step (`queued_step`: fn, inputs, outputs...) runs with the pressed target as its first
    input (a refused press leaves it empty: the queued step then does nothing); then Stop
    turns grey unless the page has another job. Returns the queued step's event."""
    brief = shared.brief.fields() if saves_brief else []
    stop = shared.run.stop

    def pressed_or_refused(typed: tuple | None, target, request: gr.Request | None) -> dict:
        try:
            pressed, place = press(studio, kind, target, page_of(request), typed)
        except UserError as error:
            if not (after_step and Target.parse(target) is None):
                refused(error, press)
            return {shared.open.pressed: "", line: gr.skip(), stop: gr.skip()}
        return {shared.open.pressed: pressed, line: place, stop: gr.update(variant="stop")}

    # Gradio finds the gr.Request by a named parameter, so each form is spelled out
    def press_step(target, request: gr.Request):
        return pressed_or_refused(None, target, request)

    def press_with_brief(target, instruction, bible, total, single, request: gr.Request):
        return pressed_or_refused((instruction, bible, total, single), target, request)

    def stop_shade(request: gr.Request):
        return stop_button(studio.page_busy(page_of(request)))

    step = {**queued_step}
    step["fn"] = user_errors_stream(queued(studio, step["fn"], kind, line))
    step["inputs"] = [shared.open.pressed, *step["inputs"]]
    generating = listener(
        press_with_brief if saves_brief else press_step,
        [shared.open.target, *brief],
        [shared.open.pressed, line, stop],
        **INSTANT,
    ).then(**step, **GENERATING)
    generating.then(stop_shade, None, [stop], **INSTANT)
    return generating


def stop_button(running: bool) -> dict:
    """Stop is red while the page has a job running or waiting, grey otherwise."""
    return gr.update(variant="stop" if running else "secondary")


def write_events(studio: Studio, shared: Shared, starts) -> None:
    """Write (or Resume, with `resume`) after each of `starts` (event listeners), streaming
    into the run display; the after-run refreshes follow."""
    for start, resume in starts:
        event = pressing(
            studio,
            shared,
            start,
            "write",
            shared.run.progress,
            saves_brief=True,
            fn=functools.partial(write, studio, shared.run, resume),
            inputs=shared.brief.fields(),
            outputs=shared.run.components(),
            show_progress_on=[shared.run.progress],
        )
        shared.then_refresh(event)
