"""The project service: what the command line and the studio both do with a project.

Creating a project, the one-row plan of single-pass mode, checking a brief, editing plan rows,
exporting every format, following a run's progress and the overview of a project's sections and
runs live here once, so the two faces cannot drift apart.

Every write a face makes on the writer's behalf goes through a function here that takes
`based_on`, the `Versions` the writer saw (`store.versions(project)` when the page or file was
made). The write and its check run in one store transaction: when the part it changes is no
longer what the writer saw (another tab or window wrote it since), it is refused with a keyed
UserError ("changed in another tab: reload to see it") and nothing is saved. `based_on=None`
writes unchecked (a one-shot command that reads and writes at once).
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from engine import messages
from engine.errors import UserError
from engine.export import FORMATS, export_document
from engine.metrics import count_words
from engine.models.settings import LoadSettings
from engine.planning.book_plan import rescale_book
from engine.planning.plan import check_request, load_plan_file, rescale
from engine.projects.run import project_document
from engine.projects.stale import check_current
from engine.schema import (
    MAX_BIBLE_CHARS,
    MAX_SCENES_PER_CHAPTER,
    MAX_SECTION_WORDS,
    MAX_SECTIONS,
    Plan,
    PlanSection,
    WriteSettings,
)
from engine.store.database import BRIEF_FIELDS, Project, Section, Store, Versions
from engine.store.safe_names import file_stem
from engine.writing.events import RunFinished, SectionFinished, SectionProgress, SectionStarted


def create_project(
    store: Store,
    name: str,
    instruction: str,
    target_words: int,
    bible: str = "",
    settings: WriteSettings | None = None,
    model: LoadSettings | None = None,
    plan: Plan | None = None,
) -> Project:
    """A new project with its brief checked and, when given, its first plan saved."""
    check_bible(bible)
    if target_words <= 0:
        raise UserError(key="error.total_positive")
    project = store.create_project(name, instruction, target_words, bible, settings, model)
    if plan is not None:
        store.save_plan(project, plan)
    return project


def check_bible(bible: str) -> None:
    if len(bible or "") > MAX_BIBLE_CHARS:
        raise UserError(key="error.bible_long", length=len(bible), most=MAX_BIBLE_CHARS)


def check_brief(instruction: str, bible: str, target_words: int) -> None:
    """Everything a brief needs before a plan can be drafted or a piece written from it."""
    check_bible(bible)
    check_request(instruction, target_words)


def name_from_instruction(instruction: str) -> str:
    """A project name from an instruction's first words."""
    words = instruction.split()
    return " ".join(words[:6])[:60] or "untitled"


def single_pass_plan(title: str, instruction: str, target_words: int) -> Plan:
    """Single-pass mode's plan: one row asking for the whole piece."""
    if target_words > MAX_SECTION_WORDS:
        raise UserError(key="error.single_too_long", words=target_words, most=MAX_SECTION_WORDS)
    point = (instruction.strip() or title)[:4000]
    return Plan(sections=[PlanSection(title=title[:200], main_point=point, words=target_words)])


def fit_plan(plan: Plan, total_words: int) -> Plan:
    """The plan scaled to total_words (a book plan by its chapters), unchanged if it fits."""
    if plan.total_words == total_words:
        return plan
    return rescale_book(plan, total_words) if plan.two_level else rescale(plan, total_words)


def insert_row(plan: Plan, after: int, row: PlanSection) -> Plan:
    """The plan with `row` inserted after row `after` (1-based; 0 puts it first). In a book
    plan the row becomes a scene of the chapter of the row before it (of the first chapter
    with scenes when it goes first)."""
    if not 0 <= after <= len(plan.sections):
        raise UserError(key="error.insert_after", count=len(plan.sections))
    if not plan.two_level:
        if len(plan.sections) >= MAX_SECTIONS:
            raise UserError(key="error.plan_full", most=MAX_SECTIONS)
        return Plan(sections=[*plan.sections[:after], row, *plan.sections[after:]])
    neighbour = plan.sections[max(after - 1, 0)] if plan.sections else None
    chapter = neighbour.chapter if neighbour else plan.chapters[0].id
    if len(plan.scenes(chapter)) >= MAX_SCENES_PER_CHAPTER:
        title = plan.chapters[plan.chapter_index(chapter)].title
        raise UserError(key="error.chapter_full", title=title, most=MAX_SCENES_PER_CHAPTER)
    scene = row.model_copy(update={"chapter": chapter})
    sections = [*plan.sections[:after], scene, *plan.sections[after:]]
    return Plan.model_validate(
        {**plan.model_dump(), "sections": [s.model_dump() for s in sections]}
    )


def continue_from(
    store: Store, project: Project, index: int, based_on: Versions | None = None
) -> None:
    """Make the sections from plan row `index` (0-based) on unwritten, so the next run writes
    them again after the ones before; their versions stay in each section's history, and
    `undo_start_over` makes them current again. Refused when a section's text changed since
    `based_on`."""
    with store.transaction():
        check_current(store, based_on, project, all_sections=True)
        plan = store.plan(project)
        if plan is None or not 0 <= index < len(plan.sections):
            count = len(plan.sections) if plan else 0
            raise UserError(key="error.continue_from", count=count)
        current = {s.section_id: s.version_id for s in store.sections(project, plan)}
        snapshot = {"sections": {i: current[i] for i in plan.ids[index:] if i in current}}
        recaps = store.recaps(project)
        cleared = []
        if plan.two_level:  # the recaps from that scene's chapter on tell what is rewritten
            first = plan.chapter_index(plan.sections[index].chapter)
            for chapter in plan.chapters[first:]:
                if chapter.id in recaps and not recaps[chapter.id].edited:
                    cleared.append(chapter.id)
        snapshot["recaps"] = {c: recaps[c].text for c in cleared}
        if snapshot["sections"] or cleared:  # an undo then brings back what this set aside
            store.save_start_over(project, snapshot)
        store.drop_sections_from(project, index)
        for chapter_id in cleared:
            store.save_recap(project, chapter_id, "", edited=False)
        store.touch_project(project)


def start_over(store: Store, project: Project, based_on: Versions | None = None) -> None:
    """Set every section's text aside, so the next run writes the piece again from the start.
    Nothing is deleted: the texts stay in history and `undo_start_over` brings them all back."""
    continue_from(store, project, 0, based_on)


def undo_start_over(store: Store, project: Project, based_on: Versions | None = None) -> int:
    """Bring back every text (and model recap) that the last start over, or continue-from-here,
    set aside; texts written since stay in their sections' history. Returns how many sections
    got their text back. Refused when a section changed since `based_on`; a UserError when there
    is nothing to undo."""
    with store.transaction():
        check_current(store, based_on, project, all_sections=True)
        last = store.last_start_over(project)
        if last is None:
            raise UserError(key="error.nothing_to_undo", name=project.name)
        start_over_id, snapshot = last
        history = _version_ids(store, project)
        restored = 0
        for section_id, version_id in snapshot["sections"].items():
            if version_id in history:
                store.restore_section(project, section_id, version_id)
                restored += 1
        for chapter_id, text in snapshot.get("recaps", {}).items():
            store.save_recap(project, chapter_id, text, edited=False)
        store.forget_start_over(start_over_id)
        store.touch_project(project)
    return restored


def _version_ids(store: Store, project: Project) -> set[int]:
    rows = store.db.execute(
        "select id from section_versions where project_id = ?", [project.id]
    ).fetchall()
    return {version_id for (version_id,) in rows}


# -- writes checked against the version they were based on --------------------------------------
def save_brief(
    store: Store, project: Project, based_on: Versions | None = None, **fields: object
) -> Project:
    """Save brief fields (name, instruction, bible, target_words, settings), checked: each is
    validated, and the whole is refused when the brief changed since `based_on`. Fields equal
    to the stored ones save nothing. Returns the project as saved."""
    unknown = set(fields) - BRIEF_FIELDS
    if unknown:
        raise ValueError(f"not brief fields: {sorted(unknown)}")
    if "bible" in fields:
        check_bible(str(fields["bible"] or ""))
    if "target_words" in fields and int(fields["target_words"] or 0) <= 0:
        raise UserError(key="error.total_positive")
    with store.transaction():
        check_current(store, based_on, project, brief=True)
        stored = store.project_by_id(project.id)
        changed = {k: v for k, v in fields.items() if getattr(stored, k) != v}
        if "name" in changed:
            stored = store.rename_project(stored, str(changed.pop("name")))
        return store.update_project(stored, **changed) if changed else stored


def set_section_headings(
    store: Store, project: Project, on: bool, based_on: Versions | None = None
) -> Project:
    """Scene (or section) titles as headings in the document and exports (on), or scenes set
    apart by breaks (off): the project's `section_headings` setting, saved as a brief write."""
    settings = store.project_by_id(project.id).settings.model_copy(
        update={"section_headings": bool(on)}
    )
    return save_brief(store, project, based_on, settings=settings)


def save_plan(store: Store, project: Project, plan: Plan, based_on: Versions | None = None) -> int:
    """Save an edited plan as a new version, refused when the plan changed since `based_on`;
    a plan equal to the latest saves nothing. Returns the plan version now current."""
    with store.transaction():
        check_current(store, based_on, project, plan=True)
        versions = store.plan_versions(project)
        if versions and store.plan(project) == plan:
            return versions[-1][0]
        return store.save_plan(project, plan)


def save_drafted_plan(
    store: Store,
    project: Project,
    plan: Plan,
    based_on: Versions | None = None,
    **brief_fields: object,
) -> int:
    """Save a plan the model drafted from a brief, with the brief fields it was drafted from
    (the instruction and target the page held, say), in one transaction: refused when the brief
    or the plan changed since `based_on`, so a queued draft never lands on a project that moved
    on. Returns the plan version now current."""
    with store.transaction():
        check_current(store, based_on, project, brief=True, plan=True)
        if brief_fields:
            save_brief(store, project, None, **brief_fields)
        return save_plan(store, project, plan)


def rescale_plan(
    store: Store, project: Project, total_words: int, based_on: Versions | None = None
) -> int | None:
    """Scale the plan to `total_words` (locked rows keep theirs) and save it, refused when the
    plan changed since `based_on`. A plan that already adds up is left as it is and nothing is
    saved. Returns the plan version now current (None when the project has no plan)."""
    if total_words <= 0:
        raise UserError(key="error.rescale_total")
    with store.transaction():
        check_current(store, based_on, project, plan=True)
        plan = store.plan(project)
        if plan is None:
            return None
        return save_plan(store, project, fit_plan(plan, total_words))


def plan_file_text(store: Store, project: Project) -> tuple[str, int]:
    """The project's latest plan as a JSON file a writer edits by hand (the form `write --plan`
    reads), marked with the project's id and the plan version it is, so `save_plan_file`
    refuses it once the project's plan has moved on. Returns the text and the version."""
    versions = store.plan_versions(project)
    plan = store.plan(project)
    if plan is None:
        raise UserError(key="error.no_plan", name=project.name)
    version = versions[-1][0]
    data = {"project_id": project.id, "plan_version": version, **json.loads(plan.file_json())}
    return json.dumps(data, indent=2, ensure_ascii=False), version


def save_plan_file(store: Store, project: Project, path: str | Path) -> tuple[int, bool]:
    """Save a plan file as the project's plan. A file exported by `plan_file_text` is refused
    when the project's plan moved on since (error.stale_plan_file) or it came from another
    project; a hand-written file without those marks is saved as it is. Returns the plan
    version now current and whether this saved a new one."""
    plan = load_plan_file(str(path))
    try:
        marks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marks = {}
    file_project, file_version = marks.get("project_id"), marks.get("plan_version")
    if file_project is not None and file_project != project.id:
        raise UserError(key="error.plan_file_other_project", path=path, name=project.name)
    with store.transaction():
        now = store.versions(project)
        if file_version is not None and file_version != now.plan:
            raise UserError(
                key="error.stale_plan_file",
                name=project.name,
                path=path,
                file=file_version,
                current=now.plan,
            )
        version = save_plan(store, project, plan)
    return version, version != now.plan


def save_edit(
    store: Store, project: Project, section_id: str, text: str, based_on: Versions | None = None
) -> int:
    """The writer's own text for a section, saved as a new current version of kind "edit";
    refused when the section's text changed since `based_on`. Returns the new version's id."""
    if not (text or "").strip():
        raise UserError(key="error.text_empty")
    with store.transaction():
        check_current(store, based_on, project, sections=(section_id,))
        _check_in_plan(store, project, section_id)
        version_id = store.start_section(project, section_id, text, kind="edit")
        store.save_section(version_id, text, 0, done=True)
        store.touch_project(project)
    return version_id


def restore_version(
    store: Store,
    project: Project,
    section_id: str,
    version_id: int,
    based_on: Versions | None = None,
) -> int:
    """Bring an older version of a section back: a copy of it becomes the current version, of
    kind "restore", so the history keeps when it came back. Refused when the section's text
    changed since `based_on`. Returns the new version's id."""
    with store.transaction():
        check_current(store, based_on, project, sections=(section_id,))
        old = store.section_version(project, version_id)
        if old is None or old.section_id != section_id:
            raise UserError(key="error.version_other_section")
        new_id = store.start_section(
            project, section_id, old.text, kind="restore", source_version_id=version_id
        )
        store.save_section(new_id, old.text, old.output_tokens, done=old.status == "done")
        store.touch_project(project)
    return new_id


def version_line(version: Section, current: bool, language: str = messages.ENGLISH) -> str:
    """One version of a section's history as a line: its id, kind (written, rewrite, hand
    edit, restore of #N, imported), time (UTC, to the minute), words and status."""
    kind = messages.text(f"version.kind.{version.kind}", language)
    if version.kind == "restore" and version.source_version_id is not None:
        kind = messages.text("version.restore_of", language, source=version.source_version_id)
    status = f"status.{version.status}"
    return messages.text(
        "version.line_current" if current else "version.line",
        language,
        id=version.version_id,
        kind=kind,
        time=version_time(version),
        words=f"{count_words(version.text):,}",
        status=messages.text(status, language),
    )


def version_time(version: Section) -> str:
    """When the version was made, as "2026-12-04 14:30" (UTC); "" for versions without."""
    return version.created_at.replace("T", " ")[:16]


def _check_in_plan(store: Store, project: Project, section_id: str) -> None:
    plan = store.plan(project)
    if plan is None or plan.position(section_id) is None:
        raise UserError(key="error.section_gone")


def export_files(
    store: Store, project: Project, folder: Path, formats: tuple[str, ...] = FORMATS
) -> dict[str, Path]:
    """Write the project's current text in each format into `folder`; {} when nothing is written."""
    document = project_document(store, project)
    if not document.body.strip():
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"{file_stem(project.name)}.{fmt}" for fmt in formats}
    for fmt, path in paths.items():
        export_document(document, fmt, path)
    return paths


@dataclass
class ProgressSnapshot:
    section: int  # 1-based
    count: int
    words: int
    target: int
    tokens_per_s: float
    eta_s: float | None


@dataclass
class Progress:
    """Words written, speed and time left of a run, followed from the writer's events.

    `done_words` holds the words of each finished row (by plan position) before the run; a row
    being rewritten counts with its new text only."""

    target: int
    done_words: dict[int, int] = field(default_factory=dict)
    count: int = 1
    _section: int = 0
    _section_words: int = 0
    _section_started: float = field(default_factory=time.perf_counter)
    _run_started: float = field(default_factory=time.perf_counter)
    _run_words: int = 0
    _tokens_per_s: float = 0.0

    def update(self, event: object) -> ProgressSnapshot | None:
        """Take one event; a snapshot when it changed what the progress shows."""
        if isinstance(event, SectionStarted):
            self._section, self.count = event.index, event.count
            self._section_words, self._section_started = 0, time.perf_counter()
            self.done_words.pop(event.index, None)
            return self.snapshot()
        if isinstance(event, SectionProgress):
            self._section_words = event.words
            elapsed = max(time.perf_counter() - self._section_started, 1e-6)
            self._tokens_per_s = event.output_tokens / elapsed
            return self.snapshot()
        if isinstance(event, SectionFinished):
            self.done_words[event.index] = event.stats.words
            self._run_words += event.stats.words
            self._section_words = 0
            return self.snapshot()
        if isinstance(event, RunFinished):
            return self.snapshot()
        return None

    @property
    def words(self) -> int:
        return sum(self.done_words.values()) + self._section_words

    def snapshot(self) -> ProgressSnapshot:
        elapsed = max(time.perf_counter() - self._run_started, 1e-6)
        rate = (self._run_words + self._section_words) / elapsed
        left = max(self.target - self.words, 0)
        return ProgressSnapshot(
            self._section + 1,
            self.count,
            self.words,
            self.target,
            self._tokens_per_s,
            left / rate if rate > 0 else None,
        )


def finished_words(store: Store, project: Project) -> dict[int, int]:
    """Words of each finished section by plan position (what a Progress starts from)."""
    return {s.idx: count_words(s.text) for s in store.sections(project) if s.status == "done"}


class SectionOverview(BaseModel):
    """One plan row and its current text: `words`, `status` ("done", "writing" or "unwritten"),
    `version_id` (None when unwritten) and how many versions its history holds."""

    position: int  # 1-based
    section_id: str
    chapter_id: str | None = None  # a book plan's scenes name their chapter
    title: str
    main_point: str
    target_words: int
    words: int
    status: str
    version_id: int | None
    versions: int
    version_kind: str | None = None  # how the current version was made (VERSION_KINDS)
    version_time: str | None = None  # when, "2026-12-04 14:30" UTC


class ChapterOverview(BaseModel):
    """A chapter of a book plan: its target (its scenes' words once it has scenes), the words
    written, how many scenes it has (0 until they are drafted) and its recap ("" for none)."""

    position: int  # 1-based
    chapter_id: str
    title: str
    summary: str
    target_words: int
    words: int
    scenes: int
    recap: str
    recap_edited: bool


class RunOverview(BaseModel):
    """One writing run; `words` and `length_score` come from a finished run's statistics."""

    id: int
    started_at: str
    finished_at: str | None
    status: str
    words: int | None
    length_score: float | None


class ProjectOverview(BaseModel):
    """What `longwrite projects show` prints: the plan rows with their text, and the runs."""

    name: str
    status: str
    words: int
    target_words: int
    created_at: str
    updated_at: str
    plan_version: int | None
    chapters: list[ChapterOverview] = []
    sections: list[SectionOverview]
    runs: list[RunOverview]


def project_overview(store: Store, project: Project) -> ProjectOverview:
    plan = store.plan(project)
    current = {s.section_id: s for s in store.sections(project, plan)}
    versions = store.version_counts(project)
    sections = []
    for position, row in enumerate(plan.sections if plan else [], start=1):
        text = current.get(row.id)
        sections.append(
            SectionOverview(
                position=position,
                section_id=row.id,
                chapter_id=row.chapter,
                title=row.title,
                main_point=row.main_point,
                target_words=row.words,
                words=count_words(text.text) if text else 0,
                status=text.status if text else "unwritten",
                version_id=text.version_id if text else None,
                versions=versions.get(row.id, 0),
                version_kind=text.kind if text else None,
                version_time=version_time(text) if text else None,
            )
        )
    recaps = store.recaps(project)
    chapters = [
        ChapterOverview(
            position=position,
            chapter_id=chapter.id,
            title=chapter.title,
            summary=chapter.summary,
            target_words=plan.chapter_words(chapter),
            words=sum(s.words for s in sections if s.chapter_id == chapter.id),
            scenes=len(plan.scenes(chapter.id)),
            recap=recaps[chapter.id].text if chapter.id in recaps else "",
            recap_edited=chapter.id in recaps and recaps[chapter.id].edited,
        )
        for position, chapter in enumerate(plan.chapters if plan else [], start=1)
    ]
    runs = [
        RunOverview(
            id=run.id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            status=run.status,
            words=(run.stats or {}).get("words"),
            length_score=(run.stats or {}).get("length_score"),
        )
        for run in store.runs(project)
    ]
    plan_versions = store.plan_versions(project)
    return ProjectOverview(
        name=project.name,
        status=project.status,
        words=sum(s.words for s in sections),
        target_words=project.target_words,
        created_at=project.created_at,
        updated_at=project.updated_at,
        plan_version=plan_versions[-1][0] if plan_versions else None,
        chapters=chapters,
        sections=sections,
        runs=runs,
    )
