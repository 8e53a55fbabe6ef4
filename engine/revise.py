"""Rewriting one section of a project: regenerate it from scratch, or extend it by some words.

Each rewrite is a new version of the section (the old ones stay in its history). A rewrite that
is stopped before it ends is kept in the history, and the section's previous version stays
current, so a later "resume" never mistakes a half-done rewrite for the place to go on from.
"""

from collections.abc import Iterator

from engine.backends.base import Backend
from engine.errors import UserError
from engine.metrics import count_words
from engine.project_lock import hold_project
from engine.prompt_layout import Brief
from engine.schema import Plan
from engine.store import Autosave, Project, Store
from engine.writer import Event, SectionFinished, SectionProgress, Writer


def regenerate_section(
    store: Store, project: Project, backend: Backend, index: int
) -> Iterator[Event]:
    """Write section `index` again, conditioned on the current text of the sections before it."""
    plan = _plan(store, project, index)
    yield from _rewrite(store, project, backend, plan, index, partial="")


def extend_section(
    store: Store, project: Project, backend: Backend, index: int, extra_words: int
) -> Iterator[Event]:
    """Continue section `index` from its current end for about `extra_words` more words."""
    if extra_words <= 0:
        raise UserError("Extend by a positive number of words, e.g. 100.")
    plan = _plan(store, project, index)
    current = {s.idx: s for s in store.sections(project)}.get(index)
    if current is None or not current.text.strip():
        raise UserError(f"Section {index + 1} has no text to extend; write it first.")
    rows = list(plan.sections)
    target = min(count_words(current.text) + extra_words, 10_000)
    rows[index] = rows[index].model_copy(update={"words": target})
    yield from _rewrite(store, project, backend, Plan(sections=rows), index, current.text)


def _plan(store: Store, project: Project, index: int) -> Plan:
    plan = store.plan(project)
    if plan is None:
        raise UserError(f"Project {project.name!r} has no plan yet; draft or load one first.")
    if not 0 <= index < len(plan.sections):
        raise UserError(
            f"The plan has {len(plan.sections)} sections; there is no section {index + 1}."
        )
    return plan


def _rewrite(
    store: Store, project: Project, backend: Backend, plan: Plan, index: int, partial: str
) -> Iterator[Event]:
    with hold_project(store.db.conn, project.id, project.name):
        yield from _rewrite_locked(store, project, backend, plan, index, partial)


def _rewrite_locked(
    store: Store, project: Project, backend: Backend, plan: Plan, index: int, partial: str
) -> Iterator[Event]:
    sections = {s.idx: s for s in store.sections(project)}
    missing = [i + 1 for i in range(index) if i not in sections]
    if missing:
        raise UserError(f"Write section {missing[0]} first: a section follows the ones before it.")
    written = [sections[i].text for i in range(index)]
    previous = sections.get(index)
    writer = Writer(backend, Brief(project.instruction, plan, project.bible), project.settings)
    version_id = store.start_section(project, index, partial)
    autosave = Autosave(store, version_id)
    text, finished = partial, False
    try:
        for event in writer.write_section(written, index, partial):
            if isinstance(event, SectionProgress):
                text = event.text
                autosave.update(text, event.output_tokens)
            elif isinstance(event, SectionFinished):
                autosave.finish(event.text, event.stats.output_tokens)
                finished = True
            yield event
    finally:
        if not finished:
            store.save_section(version_id, text, 0, done=False)
            if previous is not None:
                store.restore_section(project, index, previous.version_id)
        store.touch_project(project)
