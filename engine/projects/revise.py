"""Revising one section: regenerate it, extend it, or rewrite it (or one passage of it) with an
instruction such as "make it darker" or "cut to 300 words".

Every revision is a new version of the section; the old ones stay in its history. Regenerate
and extend become current as soon as they finish. A rewrite is a proposal: it is saved as a
version (of kind "rewrite") bound to the version it was made from, and becomes current only when
the writer accepts it after seeing the difference (`accept_rewrite`), and only while the version
it was made from is still current. A revision stopped before it ends stays in the history and
the previous version stays current, so a later resume never mistakes it for the place to go on
from.
"""

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from engine.errors import UserError
from engine.metrics import count_words
from engine.models.backends.base import Backend
from engine.planning.plan import words_from_instruction
from engine.projects.run import project_brief
from engine.projects.stale import check_current
from engine.prompts import render
from engine.schema import MAX_SECTION_WORDS, Plan
from engine.store.database import Autosave, Project, Section, Store, Versions
from engine.store.lock import hold_project
from engine.writing.events import Event, SectionFinished, SectionProgress
from engine.writing.length_control import SectionBudget
from engine.writing.writer import Writer

EXACT_LENGTH_MAX_SHARE = 1.05  # "cut to 300 words" is cut at a sentence past 105 %
MAX_INSTRUCTION_CHARS = 2_000


@dataclass(frozen=True)
class Passage:
    """The characters [start, end) of a section's text that a rewrite replaces."""

    start: int
    end: int


@dataclass
class RevisionReady:
    """A rewrite finished: `version_id` holds `after`, not yet current; `before` is the text of
    `source_version_id`, the version it was made from, current when the rewrite started. The
    proposal can be accepted only while that version is still current."""

    section_id: str
    version_id: int
    before: str
    after: str
    source_version_id: int | None = None


def regenerate_section(
    store: Store,
    project: Project,
    backend: Backend,
    section_id: str,
    based_on: Versions | None = None,
) -> Iterator[Event]:
    """Write the section again, conditioned on the current text of the sections before it.
    Refused when the section's text changed since `based_on`."""
    check_current(store, based_on, project, sections=(section_id,))
    plan, index, written, _ = _context(store, project, section_id)
    writer = _writer(store, project, plan, backend)
    events = writer.write_section(written, index)
    yield from _save_stream(store, project, events, NewVersion(section_id, make_current=True))


def extend_section(
    store: Store,
    project: Project,
    backend: Backend,
    section_id: str,
    extra_words: int,
    based_on: Versions | None = None,
) -> Iterator[Event]:
    """Continue the section from its current end for about `extra_words` more words. Refused
    when the section's text changed since `based_on`."""
    if extra_words <= 0:
        raise UserError(key="error.extend_positive")
    check_current(store, based_on, project, sections=(section_id,))
    plan, index, written, current = _context(store, project, section_id)
    if current is None or not current.text.strip():
        raise UserError(key="error.extend_no_text", section=index + 1)
    rows = list(plan.sections)
    target = min(count_words(current.text) + extra_words, MAX_SECTION_WORDS)
    rows[index] = rows[index].model_copy(update={"words": target})
    writer = _writer(store, project, plan.model_copy(update={"sections": rows}), backend)
    events = writer.write_section(written, index, current.text)
    yield from _save_stream(
        store, project, events, NewVersion(section_id, make_current=True, start_text=current.text)
    )


def rewrite_section(
    store: Store,
    project: Project,
    backend: Backend,
    section_id: str,
    instruction: str,
    passage: Passage | None = None,
    based_on: Versions | None = None,
) -> Iterator[Event | RevisionReady]:
    """Stream a rewrite of the section (or of one passage of it) that follows `instruction`.

    Ends with RevisionReady; the new version becomes current only through `accept_rewrite`.
    Refused when the section's text changed since `based_on` (the passage was chosen in it).
    """
    check_current(store, based_on, project, sections=(section_id,))
    instruction = " ".join((instruction or "").split())
    if not instruction:
        raise UserError(key="error.revise_empty")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise UserError(key="error.revise_long", most=MAX_INSTRUCTION_CHARS)
    plan, index, written, current = _context(store, project, section_id)
    if current is None or not current.text.strip():
        raise UserError(key="error.rewrite_no_text", section=index + 1)
    source = current.text
    part = source[passage.start : passage.end] if passage else source
    words, exact = revision_target(instruction, count_words(part))
    writer = _writer(store, project, plan, backend)
    name = "revise_passage" if passage else "revise"
    request = render(
        writer.brief.language,
        name,
        index=index + 1,
        title=plan.sections[index].title,
        instruction=instruction,
        passage=part,
        words=words,
    )
    budget = SectionBudget(
        words,
        writer.tokens_per_word,
        EXACT_LENGTH_MAX_SHARE if exact else SectionBudget.max_share,
    )
    events = writer.revise_section(written, index, source, request, budget)

    def compose(new_part: str) -> str:
        return _splice(source, passage, new_part) if passage else new_part

    version = NewVersion(
        section_id,
        make_current=False,
        compose=compose,
        kind="rewrite",
        source_version_id=current.version_id,
    )
    version_id, after = yield from _save_stream(store, project, events, version)
    if after is not None:
        yield RevisionReady(section_id, version_id, source, after, current.version_id)


def accept_rewrite(
    store: Store,
    project: Project,
    section_id: str,
    version_id: int,
    based_on: Versions | None = None,
) -> None:
    """Make a rewrite proposal the section's current text. Refused (error.stale_proposal) when
    the version the rewrite was made from is no longer current: the proposal rewrote text the
    section no longer has. `based_on` is checked as well, when given."""
    with store.transaction():
        check_current(store, based_on, project, sections=(section_id,))
        proposal = store.section_version(project, version_id)
        if proposal is None or proposal.section_id != section_id:
            raise UserError(key="error.version_other_section")
        current = store.versions(project).sections.get(section_id)
        if proposal.source_version_id is not None and proposal.source_version_id != current:
            position = proposal.idx + 1 if proposal.idx is not None else section_id
            raise UserError(key="error.stale_proposal", section=position)
        store.restore_section(project, section_id, version_id)
        store.touch_project(project)


def proposal_current(store: Store, project: Project, version_id: int) -> bool:
    """Whether a rewrite proposal can still be accepted: the version it was made from is still
    its section's current one (a page clears a proposal for which this is False)."""
    proposal = store.section_version(project, version_id)
    if proposal is None:
        return False
    current = store.versions(project).sections.get(proposal.section_id)
    return proposal.source_version_id in (None, current) and proposal.version_id != current


def accept_version(
    store: Store,
    project: Project,
    section_id: str,
    version_id: int,
    based_on: Versions | None = None,
) -> None:
    """Make one of the section's versions its current text, as it is (no new version); refused
    when the section changed since `based_on`. Prefer `accept_rewrite` for a proposal (it checks
    what the rewrite was made from) and `service.restore_version` for an older version (it keeps
    the restore in the history)."""
    with store.transaction():
        check_current(store, based_on, project, sections=(section_id,))
        history = {v.version_id for v in store.section_history(project, section_id)}
        if version_id not in history:
            raise UserError(key="error.version_other_section")
        store.restore_section(project, section_id, version_id)
        store.touch_project(project)


def revision_target(instruction: str, source_words: int) -> tuple[int, bool]:
    """The length a revision aims at, and whether the instruction asked for it explicitly.

    "cut to 300 words" or "扩写到800字" name the length; "shorten by half"/"twice as long" scale
    the source; otherwise the revision keeps the source's length."""
    named = words_from_instruction(instruction)
    if named:
        return min(named, MAX_SECTION_WORDS), True
    lowered = instruction.lower()
    if re.search(r"\bhalf\b|一半|减半", lowered):
        return max(source_words // 2, 1), True
    if re.search(r"\btwice\b|\bdouble\b|一倍|两倍", lowered):
        return min(source_words * 2, MAX_SECTION_WORDS), True
    return max(source_words, 1), False


def find_passage(text: str, first_words: str, last_words: str = "") -> Passage:
    """The passage of `text` that starts with `first_words` and ends with `last_words` (or the
    first words alone, when `last_words` is empty). Matching ignores runs of whitespace."""
    first, last = first_words.strip(), last_words.strip()
    if not first:
        raise UserError(key="error.passage_start_missing")
    start_match = re.search(_loose(first), text)
    if start_match is None:
        raise UserError(key="error.passage_start_not_found", start=first[:40])
    if not last:
        return Passage(start_match.start(), start_match.end())
    end_match = re.compile(_loose(last)).search(text, start_match.start())
    if end_match is None:
        raise UserError(key="error.passage_end_not_found", end=last[:40])
    return Passage(start_match.start(), end_match.end())


def _loose(words: str) -> str:
    return r"\s+".join(re.escape(part) for part in words.split())


def _splice(source: str, passage: Passage, new_part: str) -> str:
    return source[: passage.start] + new_part.strip() + source[passage.end :]


def _writer(store: Store, project: Project, plan: Plan, backend: Backend) -> Writer:
    return Writer(backend, project_brief(store, project, plan, backend), project.settings)


def _context(
    store: Store, project: Project, section_id: str
) -> tuple[Plan, int, list[str], Section | None]:
    """The plan, the section's row, the texts before it and its current version."""
    plan = store.plan(project)
    if plan is None:
        raise UserError(key="error.no_plan", name=project.name)
    index = plan.position(section_id)
    if index is None:
        raise UserError(key="error.section_gone")
    sections = {s.idx: s for s in store.sections(project, plan)}
    missing = [i + 1 for i in range(index) if i not in sections]
    if missing:
        raise UserError(key="error.write_earlier_first", section=missing[0])
    return plan, index, [sections[i].text for i in range(index)], sections.get(index)


@dataclass(frozen=True)
class NewVersion:
    """The section version a revision streams into: whether it is current from the start, the
    text it starts from, how streamed text becomes the section's text (a rewritten passage is
    spliced into the section), its kind and the version it was made from."""

    section_id: str
    make_current: bool
    start_text: str = ""
    compose: Callable[[str], str] = str
    kind: str = "written"
    source_version_id: int | None = None


def _save_stream(
    store: Store, project: Project, events: Iterator[Event], version: NewVersion
) -> Generator[Event, None, tuple[int, str | None]]:
    """Autosave a streaming revision as a new version of the section; returns the version's id
    and its final text (None when stopped before the end).

    A regenerated or extended version is current from the start and stays so once finished; if
    it is stopped, the previous version is made current again. A rewrite's version never becomes
    current by itself. The project is held for the whole stream: a second writer is refused."""
    with hold_project(store.db.conn, project.id, project.name):
        return (yield from _save_stream_held(store, project, events, version))


def _save_stream_held(
    store: Store, project: Project, events: Iterator[Event], version: NewVersion
) -> Generator[Event, None, tuple[int, str | None]]:
    section_id, make_current, compose = version.section_id, version.make_current, version.compose
    start_text = version.start_text
    previous = next((s for s in store.sections(project) if s.section_id == section_id), None)
    version_id = store.start_section(
        project, section_id, start_text, make_current, version.kind, version.source_version_id
    )
    autosave = Autosave(store, version_id)
    text, final = start_text, None
    try:
        for event in events:
            if isinstance(event, SectionProgress):
                text = compose(event.text)
                autosave.update(text, event.output_tokens)
            elif isinstance(event, SectionFinished):
                final = compose(event.text)
                autosave.finish(final, event.stats.output_tokens)
            yield event
    finally:
        if final is None:
            store.save_section(version_id, text, 0, done=False)
            if make_current and previous is not None:
                store.restore_section(project, section_id, previous.version_id)
        store.touch_project(project)
    return version_id, final
