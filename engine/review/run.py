"""The read-through of a project: the deterministic checks over the whole book, then, when
asked, the model's checks section by section.

The deterministic checks compare sections with each other (repeats, the book's own word
rates, its majority voice), so they always read the whole book; they take seconds. The model
reads a section only when its text or what it is checked against (its plan row, the bible
entries it names, the recaps before it) changed since it last read it; each section's findings
are saved as it ends, so a killed read-through resumes where it stopped.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import UserError
from engine.models.backends.base import Backend
from engine.review import findings as stored
from engine.review.checks import ReviewSection, read_through
from engine.review.model_checks import ModelReview, check_section, section_context
from engine.store.database import Project, Store
from engine.writing.bible import parse_bible


@dataclass
class ReviewProgress:
    """The model is reading section `done + 1` of `count` (`title`)."""

    done: int
    count: int
    title: str


@dataclass
class ReviewFinished:
    """The read-through ended: findings stored, sections the model read now (and skipped as
    unchanged), and the model's findings dropped because their quote is not in the section."""

    findings: list[stored.Finding]
    rules_findings: int
    model_read: int = 0
    model_skipped: int = 0
    dropped: int = 0


def book_sections(store: Store, project: Project) -> list[ReviewSection]:
    """The project's finished sections, in plan order, as the checks read them."""
    plan = store.plan(project)
    if plan is None:
        raise UserError(key="error.no_plan", name=project.name)
    chapters = {chapter.id: chapter.title for chapter in plan.chapters}
    sections = []
    for section in store.sections(project, plan):
        if section.status != "done" or not section.text.strip():
            continue
        row = plan.sections[section.idx]
        sections.append(
            ReviewSection(
                section_id=row.id,
                position=section.idx,
                title=row.title,
                main_point=row.main_point,
                target_words=row.words,
                text=section.text,
                version_id=section.version_id,
                chapter_id=row.chapter,
                chapter_title=chapters.get(row.chapter or "", ""),
            )
        )
    if not sections:
        raise UserError(key="error.review_nothing", name=project.name)
    return sections


def review_rules(store: Store, project: Project) -> list[stored.Finding]:
    """Run the deterministic checks, store their findings (dismissed ones stay dismissed) and
    remember what this review read: each section's version, the bible and the recaps."""
    sections = book_sections(store, project)
    found = read_through(sections, parse_bible(project.bible), project.settings.style)
    stored.replace_findings(store, project, "rules", found)
    with store.db.conn:
        for section in sections:
            store.db.execute(
                "insert or replace into review_passes values (?, ?, 'rules', ?, '')",
                [project.id, section.section_id, section.version_id],
            )
    stored.save_snapshots(store, project, "bible", {"": project.bible})
    recaps = {chapter_id: recap.text for chapter_id, recap in store.recaps(project).items()}
    stored.save_snapshots(store, project, "recap", recaps)
    return found


def review_project(
    store: Store, project: Project, backend: Backend | None = None
) -> Iterator[ReviewProgress | ReviewFinished]:
    """The read-through: the deterministic checks, then the model's (with a backend) on each
    section changed since it last read it. Yields progress, then ReviewFinished."""
    rules = review_rules(store, project)
    finished = ReviewFinished([], len(rules))
    if backend is not None:
        sections = book_sections(store, project)
        read = stored.passes(store, project, "model")
        recaps = {chapter_id: recap.text for chapter_id, recap in store.recaps(project).items()}
        plan = store.plan(project)
        for done, section in enumerate(sections):
            context = section_context(project, plan, recaps, section)
            if read.get(section.section_id) == (section.version_id, context.digest):
                finished.model_skipped += 1
                continue
            yield ReviewProgress(done, len(sections), section.title)
            review: ModelReview = check_section(backend, context, section)
            stored.save_pass(
                store,
                project,
                "model",
                section.section_id,
                section.version_id,
                context.digest,
                review.findings,
            )
            finished.model_read += 1
            finished.dropped += review.dropped
    finished.findings = stored.stored_findings(store, project)
    yield finished
