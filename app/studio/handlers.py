"""What the studio's controls do: every handler calls the engine and returns component updates.

Handlers raise engine.errors.UserError for problems a user can fix (app.studio.wiring turns it
into a one-line message); generations run as app.studio.jobs.Job threads that they follow.
"""

import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from app.studio import render
from app.studio.jobs import Ended, Failed, Job
from app.studio.model_host import CUSTOM_PATH, EMBEDDED, SERVER, ModelHost, describe, model_choices
from app.studio.plan_table import plan_rows, rows_plan, total_words
from app.studio.score import length_rows, length_summary, quality_line
from engine.errors import UserError
from engine.export import FORMATS, export_document
from engine.metrics import count_words
from engine.plan import (
    check_request,
    draft_plan_stream,
    merge_locked,
    plan_from_model_output,
    rescale,
    words_from_instruction,
)
from engine.revise import extend_section, regenerate_section
from engine.schema import MAX_BIBLE_CHARS, ModelSpec, Plan, PlanSection
from engine.session import RunFinished, project_document, run_project
from engine.store import Project, Store
from engine.writer import LoopCut, SectionFinished, SectionProgress, SectionStarted


class Studio:
    """The studio's state shared by all browser sessions: database, model host, stop requests."""

    def __init__(self, db_path: Path, host: ModelHost, models_dir: Path | None = None):
        self.db_path = Path(db_path)
        self.host = host
        self.models_dir = models_dir
        self._exports_folder = tempfile.TemporaryDirectory(prefix="longwrite-export-")
        self.export_dir = Path(self._exports_folder.name)
        self._local = threading.local()
        self._jobs: dict[int, Job] = {}
        self._stop_requested: set[int] = set()
        Store(self.db_path).close()  # create and migrate once, up front

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """This thread's connection (sqlite3 connections stay in the thread that made them)."""
        if getattr(self._local, "store", None) is None:
            self._local.store = Store(self.db_path)
        return self._local.store

    def _project(self, project_id: int | None) -> Project:
        if project_id is None:
            raise UserError("Open a project from the list, or create one, first.")
        return self.store.project_by_id(int(project_id))

    # -- views --------------------------------------------------------------------------------
    def project_table(self) -> list[list]:
        return [
            [p.name, p.words, p.target_words, p.status, p.updated_at.replace("T", " ")[:16]]
            for p in self.store.list_projects()
        ]

    def _versions(self, project: Project) -> dict:
        versions = self.store.plan_versions(project)
        choices = [
            (f"v{n} · {created.replace('T', ' ')[:19]}", n) for n, created in reversed(versions)
        ]
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def _document(self, project: Project) -> tuple[str, list[tuple[int, str, str]], dict]:
        """Finished sections' HTML, the list behind it, and the partial section (if any)."""
        plan = self.store.plan(project)
        titles = [s.title for s in plan.sections] if plan else []
        headings = project.settings.section_headings and len(titles) > 1
        finished, partial = [], {}
        for section in self.store.sections(project):
            title = titles[section.idx] if headings and section.idx < len(titles) else ""
            if section.status == "done":
                finished.append((section.idx, title, section.text))
            elif section.text.strip():
                partial = {"idx": section.idx, "title": title, "text": section.text}
        return render.document_html(finished), finished, partial

    def _section_choices(self, project: Project, keep_choice: bool = False) -> dict:
        """The section menu; after a generation the chosen section stays chosen."""
        plan = self.store.plan(project)
        choices = [(f"{i + 1}. {s.title}", i) for i, s in enumerate(plan.sections)] if plan else []
        return gr.update(choices=choices) if keep_choice else gr.update(choices=choices, value=None)

    def _exports(self, project: Project) -> list[dict]:
        document = project_document(self.store, project)
        if not document.body.strip():
            return [gr.update(value=None, interactive=False) for _ in FORMATS]
        folder = self.export_dir / str(project.id)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w\- ]+", "", project.name).strip().replace(" ", "_") or "document"
        updates = []
        for fmt in FORMATS:
            path = folder / f"{stem}.{fmt}"
            export_document(document, fmt, path)
            updates.append(gr.update(value=str(path), interactive=True))
        return updates

    def _length(self, project: Project) -> tuple[str, list[list]]:
        plan = self.store.plan(project)
        texts = {s.idx: s.text for s in self.store.sections(project)}
        return length_summary(plan, texts), length_rows(plan, texts)

    def _progress_at_rest(self, project: Project, partial: dict) -> str:
        plan = self.store.plan(project)
        if plan is None:
            return "No plan yet: draft one on the Plan tab, or write one there row by row."
        written = sum(count_words(s.text) for s in self.store.sections(project))
        line = f"{written:,} / {plan.total_words:,} words written · status: {project.status}"
        if partial:
            line += f" · section {partial['idx'] + 1} was stopped part-way: Resume continues it"
        return line

    def open_view(self, w, project: Project | None) -> dict:
        """Every component that shows a project, filled from the store."""
        if project is None:
            return {
                w.project_id: None,
                w.last_project: None,
                w.title: "### No project open",
                w.instruction: "",
                w.bible: "",
                w.total: 1000,
                w.single: False,
                w.plan: [],
                w.plan_total: "",
                w.versions: gr.update(choices=[], value=None),
                w.document: render.EMPTY_DOCUMENT,
                w.active_heading: "",
                w.active: "",
                w.progress: "",
                w.section: gr.update(choices=[], value=None),
                w.section_text: "",
                w.history: gr.update(choices=[], value=None),
                w.length_summary: "",
                w.length: [],
                w.quality: "",
                w.rename_to: "",
                w.project_list: self.project_table(),
                **{
                    button: gr.update(value=None, interactive=False)
                    for button in w.exports.values()
                },
            }
        plan = self.store.plan(project)
        rows = plan_rows(plan)
        document, _, partial = self._document(project)
        summary, length = self._length(project)
        exports = self._exports(project)
        return {
            w.project_id: project.id,
            w.last_project: project.id,
            w.title: f"### {project.name}",
            w.instruction: project.instruction,
            w.bible: project.bible,
            w.total: project.target_words,
            w.single: project.settings.mode == "single",
            w.plan: rows,
            w.plan_total: self.plan_total_line(rows, project.target_words),
            w.versions: self._versions(project),
            w.document: document,
            w.active_heading: render.stopped_heading(partial["idx"], len(plan.sections))
            if partial and plan
            else "",
            w.active: render.active_text(partial.get("text", "")),
            w.progress: self._progress_at_rest(project, partial),
            w.section: self._section_choices(project),
            w.section_text: "",
            w.history: gr.update(choices=[], value=None),
            w.length_summary: summary,
            w.length: length,
            w.quality: "",
            w.rename_to: project.name,
            w.project_list: self.project_table(),
            **dict(zip(w.exports.values(), exports, strict=True)),
        }

    @staticmethod
    def plan_total_line(rows: list[list], target: int | float | None) -> str:
        total = total_words(rows)
        target = int(target or 0)
        note = "" if not target or total == target else f" (target {target:,})"
        return f"Plan total: **{total:,}** words{note}"

    # -- model panel --------------------------------------------------------------------------
    def model_menu(self) -> list[tuple[str, str]]:
        return [(c.label, c.key) for c in model_choices(self.models_dir)]

    def current_model_key(self) -> str:
        spec = self.host.spec
        if spec.base_url:
            return SERVER
        if not spec.model_path:
            return EMBEDDED
        keys = [key for _, key in self.model_menu()]
        return spec.model_path if spec.model_path in keys else CUSTOM_PATH

    def model_summary(self) -> str:
        spec = self.host.spec
        where = spec.base_url or spec.model_path or "the embedded SmolLM2-135M-Instruct"
        return f"In use: {where}. Press *Use this model* to see its details."

    # -- projects -----------------------------------------------------------------------------
    def on_load(self, w, last_project: int | None) -> dict:
        project = None
        if last_project is not None:
            try:
                project = self._project(last_project)
            except UserError:
                project = None
        return self.open_view(w, project)

    def create(self, w, name: str, total: float | None) -> dict:
        if not (name or "").strip():
            raise UserError("Type a name for the new project first.")
        project = self.store.create_project(name, "", int(total or 1000))
        gr.Info(f"Created {project.name!r}.")
        return {**self.open_view(w, project), w.new_name: ""}

    def open_selected(self, w, event: gr.SelectData) -> dict:
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        names = [p.name for p in self.store.list_projects()]
        if row is None or not 0 <= row < len(names):
            raise UserError("Click a project's name to open it.")
        return self.open_view(w, self.store.project(names[row]))

    def rename(self, w, project_id: int | None, new_name: str) -> dict:
        project = self.store.rename_project(self._project(project_id), new_name or "")
        return self.open_view(w, project)

    def duplicate(self, w, project_id: int | None) -> dict:
        project = self._project(project_id)
        copy = self.store.duplicate_project(project, self.store.unique_name(f"{project.name} copy"))
        gr.Info(f"Duplicated as {copy.name!r}.")
        return self.open_view(w, copy)

    def ask_delete(self, project_id: int | None) -> tuple:
        project = self._project(project_id)
        words = count_words(project_document(self.store, project).body)
        note = (
            f"Delete **{project.name}** with its {words:,} words, every plan version and every "
            "section version? This cannot be undone."
        )
        return gr.update(visible=True), note

    def delete(self, w, project_id: int | None) -> dict:
        project = self._project(project_id)
        if project.id in self._jobs:
            raise UserError("Stop the generation for this project before deleting it.")
        self.store.delete_project(project)
        gr.Info(f"Deleted {project.name!r}.")
        return {**self.open_view(w, None), w.delete_box: gr.update(visible=False)}

    # -- brief --------------------------------------------------------------------------------
    def save_brief(
        self,
        project_id: int | None,
        instruction: str,
        bible: str,
        total: float | None,
        single: bool,
    ) -> Project | None:
        if project_id is None:
            return None
        project = self._project(project_id)
        if len(bible or "") > MAX_BIBLE_CHARS:
            raise UserError(
                f"The story bible is {len(bible):,} characters; keep it under {MAX_BIBLE_CHARS:,}."
            )
        target = int(total or 0)
        if target <= 0:
            raise UserError("Total words must be a positive number, e.g. 2000.")
        settings = project.settings.model_copy(
            update={"mode": "single" if single else "agentwrite"}
        )
        changed = (
            (instruction or "") != project.instruction
            or (bible or "") != project.bible
            or target != project.target_words
            or settings != project.settings
        )
        if not changed:
            return project
        return self.store.update_project(
            project,
            instruction=instruction or "",
            bible=bible or "",
            target_words=target,
            settings=settings,
        )

    def brief_changed(self, project_id, instruction, bible, total, single) -> None:
        self.save_brief(project_id, instruction, bible, total, single)

    def instruction_done(self, project_id, instruction, bible, total, single):
        """Save the brief; a new instruction that names a length sets Total words to it."""
        if project_id is None:
            return gr.skip(), gr.skip()
        before = self._project(project_id).instruction
        words = words_from_instruction(instruction or "")
        if words and (instruction or "") != before:
            total = words
        self.save_brief(project_id, instruction, bible, total, single)
        return total, self.project_table()

    # -- plan editor --------------------------------------------------------------------------
    def _save_plan(self, project: Project, plan: Plan) -> None:
        if self.store.plan(project) != plan:
            self.store.save_plan(project, plan)

    def save_rows(self, project_id: int | None, rows: list[list]) -> dict:
        project = self._project(project_id)
        self._save_plan(project, rows_plan(rows))
        return self._versions(project)

    @staticmethod
    def select_row(event: gr.SelectData):
        index = event.index
        row = index[0] if isinstance(index, list | tuple) else index
        return row + 1 if isinstance(row, int) else gr.skip()

    def edit_rows(self, operation, project_id, rows, row, total) -> tuple:
        project = self._project(project_id)
        rows = operation(rows or [], row)
        if rows:
            self._save_plan(project, rows_plan(rows))
        return rows, self.plan_total_line(rows, total), self._versions(project)

    def rescale(self, project_id, rows, total) -> tuple:
        project = self._project(project_id)
        if not total or int(total) <= 0:
            raise UserError("Set Total words on the Brief tab to a positive number first.")
        plan = rescale(rows_plan(rows), int(total))
        self._save_plan(project, plan)
        rows = plan_rows(plan)
        return rows, self.plan_total_line(rows, total), self._versions(project)

    def restore_plan(self, project_id, version) -> tuple:
        project = self._project(project_id)
        if version is None:
            raise UserError("Choose a plan version first.")
        plan = self.store.plan(project, int(version))
        if plan is None:
            raise UserError(f"Plan version {version} does not exist.")
        self._save_plan(project, plan)
        rows = plan_rows(plan)
        return rows, self.plan_total_line(rows, project.target_words), self._versions(project)

    # -- generations --------------------------------------------------------------------------
    def arm(self, project_id: int | None) -> str:
        """A fresh click: forget an earlier stop request for this project."""
        if project_id is not None:
            self._stop_requested.discard(int(project_id))
        return "Waiting for the model…"

    def stop(self, project_id: int | None) -> None:
        if project_id is None:
            return
        self._stop_requested.add(int(project_id))
        job = self._jobs.get(int(project_id))
        if job is not None:
            job.stop()
        gr.Info("Stopping; everything written so far is saved.")

    def _follow(self, project: Project, start: Callable[[Store], Iterator]) -> Iterator[list]:
        """Run a generation for the project and yield its events in batches."""
        if project.id in self._jobs:
            raise UserError("This project is already generating; wait for it or press Stop.")
        if project.id in self._stop_requested:
            yield [Ended(stopped=True)]
            return
        host = self.host

        def run(store: Store) -> Iterator:
            return start(store, host.backend())

        job = Job(self.db_path, run)
        self._jobs[project.id] = job
        try:
            for batch in job.batches():
                if project.id in self._stop_requested:
                    job.stop()
                yield batch
        finally:
            job.stop()
            job.wait()
            self._jobs.pop(project.id, None)

    def draft(self, project_id, instruction, bible, total, single, rows) -> Iterator[tuple]:
        project = self.save_brief(project_id, instruction, bible, total, single)
        if project is None:
            raise UserError("Open a project from the list, or create one, first.")
        check_request(project.instruction, project.target_words)
        previous = None
        try:
            previous = rows_plan(rows) if rows else None
        except UserError:
            previous = None
        raw = ""
        skip = gr.skip()

        def start(store: Store, backend):
            return draft_plan_stream(
                backend, project.instruction, project.target_words, project.bible
            )

        for batch in self._follow(project, start):
            for event in batch:
                if isinstance(event, str):
                    raw += event
                elif isinstance(event, Failed):
                    raise UserError(event.message)
                elif isinstance(event, Ended) and event.stopped:
                    gr.Warning("Drafting stopped; the plan was left as it was.")
                    return
            yield raw, skip, skip, skip
        plan = rescale(plan_from_model_output(raw, project.target_words), project.target_words)
        if previous is not None and any(s.locked for s in previous.sections):
            plan = rescale(merge_locked(previous, plan), project.target_words)
        self._save_plan(project, plan)
        rows = plan_rows(plan)
        yield raw, rows, self.plan_total_line(rows, project.target_words), self._versions(project)

    def write(self, w, resume: bool, project_id, instruction, bible, total, single, rows):
        project = self.save_brief(project_id, instruction, bible, total, single)
        if project is None:
            raise UserError("Open a project from the list, or create one, first.")
        if single:
            plan = Plan(
                sections=[
                    PlanSection(
                        title=project.name,
                        main_point=(project.instruction.strip() or project.name)[:4000],
                        words=project.target_words,
                    )
                ]
            )
        elif not rows:
            raise UserError("The plan is empty: draft a plan on the Plan tab first.")
        else:
            plan = rows_plan(rows)
        check_request(project.instruction, plan.total_words)
        sections = self.store.sections(project)
        if not resume and any(s.text.strip() for s in sections):
            raise UserError(
                "This project has text already: Resume continues it, Start over clears it "
                "(earlier versions stay in each section's history)."
            )
        if single and self.store.plan(project) != plan:
            gr.Info("Single pass: saved a one-row plan; earlier plans stay under Plan versions.")
        self._save_plan(project, plan)
        if (
            resume
            and len(sections) >= len(plan.sections)
            and all(s.status == "done" for s in sections)
        ):
            gr.Info("Every section is written. Regenerate or extend one, or Start over.")
            return

        def start(store: Store, backend):
            return run_project(store, store.project_by_id(project.id), backend)

        yield from self._stream(project, plan, start)

    def rewrite(self, w, kind: str | None, project_id, section, extra_words):
        project = self._project(project_id)
        if section is None:
            raise UserError("Choose a section first.")
        index = int(section)
        plan = self.store.plan(project)
        if plan is None:
            raise UserError("This project has no plan yet.")

        def start(store: Store, backend):
            current = store.project_by_id(project.id)
            if kind == "extend":
                return extend_section(store, current, backend, index, int(extra_words or 0))
            return regenerate_section(store, current, backend, index)

        yield from self._stream(project, plan, start)

    def _stream(self, project: Project, plan: Plan, start) -> Iterator[tuple]:
        """Follow a writing job: finished sections join the document, the active one streams."""
        document, finished, _ = self._document(project)
        titles = [s.title for s in plan.sections]
        headings = project.settings.section_headings and len(titles) > 1
        done_words = {i: count_words(text) for i, _, text in finished}
        heading, text, line = "", "", "Waiting for the model…"
        active_index: int | None = None
        section_started = time.perf_counter()
        run_started, run_words = time.perf_counter(), 0
        count = len(plan.sections)
        for batch in self._follow(project, start):
            for event in batch:
                if isinstance(event, SectionStarted):
                    heading = render.active_heading(
                        event.index,
                        event.count,
                        titles[event.index] if event.index < len(titles) else project.name,
                    )
                    text, section_started, count = "", time.perf_counter(), event.count
                    active_index = event.index
                elif isinstance(event, SectionProgress):
                    text = event.text
                    elapsed = max(time.perf_counter() - section_started, 1e-6)
                    written = sum(done_words.values()) - done_words.get(event.index, 0)
                    words = written + event.words
                    rate = (run_words + event.words) / max(time.perf_counter() - run_started, 1e-6)
                    left = max(plan.total_words - words, 0)
                    line = render.progress_line(
                        event.index + 1,
                        count,
                        words,
                        plan.total_words,
                        event.output_tokens / elapsed,
                        left / rate if rate > 0 else None,
                    )
                elif isinstance(event, SectionFinished):
                    done_words[event.index] = event.stats.words
                    run_words += event.stats.words
                    rewritten = any(f[0] == event.index for f in finished)
                    finished = [f for f in finished if f[0] != event.index]
                    title = titles[event.index] if headings else ""
                    finished = sorted([*finished, (event.index, title, event.text)])
                    if finished[-1][0] == event.index and len(finished) > 1 and not rewritten:
                        # appended at the end: Gradio sends the browser only the new section
                        document += render.section_html(event.index, title, event.text)
                    else:
                        document = render.document_html(finished)
                    heading, text = "", ""
                elif isinstance(event, LoopCut):
                    gr.Info(
                        f"Section {event.index + 1}: the model repeated itself; cut back "
                        f"to {event.kept_words} words and went on."
                    )
                elif isinstance(event, RunFinished):
                    stats = event.stats
                    line = (
                        f"Done: {stats.words:,} of {stats.target_words:,} words · length "
                        f"score {stats.length_score:.1f} · {stats.decode_tokens_per_s} tok/s "
                        f"· {stats.wall_s:.0f} s"
                    )
                elif isinstance(event, Failed):
                    raise UserError(event.message)
                elif isinstance(event, Ended):
                    if event.stopped:
                        line = "Stopped. Everything written is saved; Resume continues it."
                        if heading and active_index is not None:
                            heading = render.stopped_heading(active_index, count)
                    elif heading == "" and not line.startswith("Done"):
                        line = f"Done: {sum(done_words.values()):,} words in this document."
            yield document, heading, render.active_text(text), line

    def after_run(self, project_id) -> tuple:
        """After a generation or a hand edit: lists, length view and fresh export files."""
        if project_id is None:
            return (
                self.project_table(),
                gr.skip(),
                gr.skip(),
                gr.skip(),
                *[gr.skip() for _ in FORMATS],
            )
        project = self._project(project_id)
        summary, length = self._length(project)
        return (
            self.project_table(),
            self._section_choices(project, keep_choice=True),
            summary,
            length,
            *self._exports(project),
        )

    def start_over(self, w, project_id) -> dict:
        project = self._project(project_id)
        if project.id in self._jobs:
            raise UserError("Stop the generation first.")
        self.store.drop_sections_from(project, 0)
        self.store.touch_project(project)
        gr.Info("Cleared. Earlier texts stay in each section's history.")
        return self.open_view(w, self._project(project_id))

    # -- one section --------------------------------------------------------------------------
    def _history(self, project: Project, index: int) -> dict:
        history = self.store.section_history(project, index)
        current = {s.idx: s.version_id for s in self.store.sections(project)}.get(index)
        choices = [
            (
                f"#{v.version_id} · {v.status} · {count_words(v.text):,} words"
                + (" · current" if v.version_id == current else ""),
                v.version_id,
            )
            for v in reversed(history)
        ]
        return gr.update(choices=choices, value=current)

    def show_section(self, project_id, section) -> tuple:
        if section is None or project_id is None:
            return "", gr.update(choices=[], value=None)
        project = self._project(project_id)
        index = int(section)
        current = {s.idx: s for s in self.store.sections(project)}.get(index)
        return (current.text if current else ""), self._history(project, index)

    def save_section_text(self, project_id, section, text) -> tuple:
        project = self._project(project_id)
        if section is None:
            raise UserError("Choose a section first.")
        if not (text or "").strip():
            raise UserError("The text is empty; to remove a section, delete its plan row.")
        index = int(section)
        version_id = self.store.start_section(project, index, text)
        self.store.save_section(version_id, text, 0, done=True)
        self.store.touch_project(project)
        gr.Info(f"Saved your edit of section {index + 1} as a new version.")
        return self._document(project)[0], self._history(project, index)

    def restore_section(self, project_id, section, version_id) -> tuple:
        project = self._project(project_id)
        if section is None or version_id is None:
            raise UserError("Choose a section and one of its versions first.")
        index = int(section)
        versions = {v.version_id: v for v in self.store.section_history(project, index)}
        if int(version_id) not in versions:
            raise UserError("That version belongs to another section; choose again.")
        self.store.restore_section(project, index, int(version_id))
        self.store.touch_project(project)
        return self._document(project)[0], versions[int(version_id)].text

    # -- length and model ---------------------------------------------------------------------
    def score(self, project_id) -> tuple:
        project = self._project(project_id)
        summary, rows = self._length(project)
        document = project_document(self.store, project)
        if not document.body.strip():
            raise UserError("Nothing is written yet; write the piece, then score it.")
        return summary, rows, quality_line(project.instruction, document)

    @staticmethod
    def model_fields(choice: str) -> tuple:
        return (
            gr.update(visible=choice == CUSTOM_PATH),
            gr.update(visible=choice == SERVER),
            gr.update(visible=choice == SERVER),
        )

    def use_model(self, choice, path, base_url, model_name) -> str:
        if choice == SERVER:
            if not (base_url or "").strip():
                raise UserError("Type the server's URL, e.g. http://127.0.0.1:8000/v1.")
            spec = ModelSpec(base_url=base_url.strip(), model_name=(model_name or "").strip())
        elif choice == CUSTOM_PATH:
            if not (path or "").strip():
                raise UserError("Type the path of a .gguf file.")
            spec = ModelSpec(model_path=str(Path(path.strip()).expanduser()))
        elif choice == EMBEDDED or choice is None:
            spec = ModelSpec()
        else:
            spec = ModelSpec(model_path=choice)
        if self._jobs:
            raise UserError("A generation is running; switch models when it has finished.")
        spec.n_ctx = self.host.spec.n_ctx  # --ctx of `longwrite studio` holds for every model
        info = self.host.choose(spec)
        return "In use: " + describe(info)
