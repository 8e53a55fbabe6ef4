"""The `longwrite` command line."""

import logging
import sqlite3
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click
from tqdm import tqdm

from app.book_cli import style_options
from app.lazy_group import LazyGroup
from app.options import gather, model_options, stack_options, threads_option
from engine import messages
from engine.errors import UserError
from engine.models.settings import LoadSettings
from engine.schema import Mode, SamplingSettings, WriteSettings
from engine.text_hygiene import clean_name, printable, repair_decoding

MAX_TITLE_CHARS = 200  # a plan row's title


class UsageProblem(click.ClickException):
    """A UserError shown as one line, with exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        line = messages.text("cli.error", LANGUAGE["chosen"], message=self.format_message())
        click.echo(line, file=file or sys.stderr)


# The reader's language: --lang, else the locale (LC_ALL, LC_MESSAGES, LANG).
LANGUAGE = {"chosen": messages.language_from_env()}


class Longwrite(LazyGroup):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as error:
            raise UsageProblem(error.text(LANGUAGE["chosen"])) from None
        except sqlite3.DatabaseError as error:  # a damaged page found while reading
            from engine.store.backup import database_error

            raise UsageProblem(
                database_error(ctx.meta.get(DB_PATH_KEY), error).text(LANGUAGE["chosen"])
            ) from None


class UserText(click.ParamType):
    """Text typed by the user: bytes that were not UTF-8 become U+FFFD instead of surrogates
    that no file, database or terminal accepts."""

    name = "text"

    def convert(self, value, _param, _ctx):
        return repair_decoding(value) if isinstance(value, str) else value


USER_TEXT = UserText()
DB_PATH_KEY = "longwrite.db_path"


def _remember_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Keep the database path where an error handler finds it (ctx.meta is shared)."""
    from engine.store.database import default_db_path

    ctx.meta[DB_PATH_KEY] = Path(value) if value else default_db_path()
    return value


db_option = click.option(
    "--db",
    type=click.Path(path_type=str),
    callback=_remember_db,
    help="Project database (default: in your user data directory).",
)


@click.group(
    cls=Longwrite,
    lazy_commands={
        "studio": "app.studio.cli:studio",
        "hash-password": "app.studio.cli:hash_password_command",
        "models": "app.models_cli:models",
        "doctor": "app.doctor:doctor",
        "eval": "app.eval_cli:eval_group",
        "train": "app.train_cli:train",
        "data": "app.train_cli:data",
        "voice": "app.voice_cli:voice",
        "import": "app.import_cli:import_manuscript",
        "backup": "app.backup_cli:backup",
        "restore": "app.backup_cli:restore",
        "review": "app.review_cli:review",
    },
)
@click.version_option(package_name="longwrite-studio")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    help="Language of messages (default: from LANG / LC_ALL, e.g. zh_CN.UTF-8 for Chinese).",
)
# The DeepSpeed launcher puts --local_rank=N before the command; each process reads LOCAL_RANK.
@click.option("--local_rank", "--local-rank", type=int, hidden=True, expose_value=False)
def cli(lang: str | None) -> None:
    """Plan, edit and write long pieces with a local language model."""
    if lang:
        LANGUAGE["chosen"] = messages.language_of_tag(lang)
    _show_model_placement()


class _StderrLines(logging.Handler):
    """Each record as one line on the current standard error (click's, under a test runner)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(record.getMessage(), err=True)


def _show_model_placement() -> None:
    """Show the line saying where a GGUF goes (device, layers, context), which engine.models
    logs at INFO as it loads one; library use of the engine stays silent."""
    models_log = logging.getLogger("engine.models")
    models_log.setLevel(logging.INFO)
    models_log.propagate = False  # once, even when a library has configured the root logger
    if not any(isinstance(handler, _StderrLines) for handler in models_log.handlers):
        models_log.addHandler(_StderrLines())


@dataclass(frozen=True)
class PieceOptions:
    """What to write: the brief options of `plan` and `write` (those a command lacks keep
    these defaults)."""

    instruction: str | None = None
    words: int | None = None
    bible_file: str | None = None
    plan_file: str | None = None
    project_name: str | None = None
    scenes_up_front: bool = False


@dataclass(frozen=True)
class WritingOptions:
    """How `write` writes a new piece: mode, seed, the repetition guard and the style options."""

    mode: Mode = "agentwrite"
    seed: int | None = None
    no_repetition_guard: bool = False
    styles: tuple[str, ...] = ()
    style_sample_file: str | None = None

    def settings(self, style: dict) -> WriteSettings:
        """The project's WriteSettings, with the style fields _style_choice read."""
        return WriteSettings(
            mode=self.mode,
            sampling=SamplingSettings(seed=self.seed),
            fight_repetition=not self.no_repetition_guard,
            **style,
        )


@dataclass(frozen=True)
class Outputs:
    """Where `write` puts the piece (Markdown) and its run statistics (JSON), if anywhere."""

    output: str | None = None
    stats_json: str | None = None


@dataclass(frozen=True)
class NewRow:
    """`plan NAME --insert-after K --title … --main-point …`: a row to add to a saved plan."""

    insert_after: int | None = None
    title: str | None = None
    main_point: str | None = None


@cli.command()
@click.argument("instruction", type=USER_TEXT)
@click.option(
    "--words", type=int, help="Total length in words (default: the number in the instruction)."
)
@click.option(
    "--bible",
    "bible_file",
    type=click.Path(path_type=str),
    help="Story bible: plain text, or Markdown with one `## Name` heading per entry.",
)
@click.option("-o", "--output", type=click.Path(path_type=str), help="Write the plan JSON here.")
@click.option("--seed", type=int)
@click.option(
    "--scenes-up-front",
    is_flag=True,
    help="Over 8,000 words: draft every chapter's scenes now, not when the run reaches it.",
)
@click.option(
    "--insert-after",
    type=int,
    help="Edit a saved project's plan instead: INSTRUCTION is the project's name, and a row is "
    "inserted after row K (0 = first); needs --title, --main-point and --words.",
)
@click.option("--title", help="With --insert-after: the new row's title.")
@click.option("--main-point", help="With --insert-after: what happens in the new row.")
@db_option
@model_options
@threads_option
@gather("piece", PieceOptions)
@gather("row", NewRow)
def plan(piece: PieceOptions, output, seed, row: NewRow, db, load: LoadSettings):
    """Draft a plan as JSON you can edit and pass to `write --plan`: one row per section, or
    over 8,000 words chapters nesting their scenes.

    INSTRUCTION may be "-" to read it from standard input. With --insert-after, add a row to a
    saved project's plan instead; `write --resume NAME` then writes only the new row."""
    if row.insert_after is not None:
        _insert_row(db, piece.instruction, row, piece.words)
        return
    from engine.models.backends import open_backend
    from engine.planning.book_plan import draft_any_plan
    from engine.projects.service import check_brief

    if output:
        _check_writable(Path(output))
    instruction = _instruction_text(piece.instruction)
    words = _target_words(instruction, piece.words)
    bible = _read_bible(piece.bible_file)
    check_brief(instruction or "", bible, words)
    backend = open_backend(load)
    _say(_drafting_key(words, piece.scenes_up_front))
    drafted = draft_any_plan(backend, instruction, words, bible, seed, piece.scenes_up_front)
    text = drafted.file_json()
    if not output:
        click.echo(text)
        return
    _write_text(Path(output), text + "\n")
    if drafted.two_level:
        _say(
            "cli.plan_written_book",
            chapters=len(drafted.chapters),
            scenes=len(drafted.sections),
            path=output,
        )
    else:
        click.echo(f"Plan with {len(drafted.sections)} sections written to {output}.", err=True)


def _say(key: str, **params) -> None:
    """A catalogue line on standard error, in the reader's language."""
    click.echo(messages.text(key, LANGUAGE["chosen"], **params), err=True)


def _drafting_key(words: int, scenes_up_front: bool) -> str:
    from engine.planning.book_plan import two_level

    if not two_level(words):
        return "cli.drafting_plan"
    return "cli.drafting_all_scenes" if scenes_up_front else "cli.drafting_chapters"


def _insert_row(db, project_name, new: NewRow, words):
    """`plan NAME --insert-after K`: a new plan version with one more row."""
    from pydantic import ValidationError

    from app.book_cli import plan_lines
    from engine.projects.service import insert_row, save_plan
    from engine.schema import PlanSection
    from engine.store.database import Store

    if not (new.title and new.main_point and words):
        raise UsageProblem("--insert-after needs --title, --main-point and --words for the row.")
    try:
        row = PlanSection(title=new.title, main_point=new.main_point, words=words)
    except ValidationError as error:
        first = error.errors()[0]
        raise UsageProblem(f"The new row's {first['loc'][0]}: {first['msg']}.") from None
    store = Store(db)
    project = store.project(project_name)
    based_on = store.versions(project)  # the plan the row is inserted into
    current = store.plan(project)
    if current is None:
        raise UsageProblem(f"{project.name!r} has no plan yet; draft one with `longwrite write`.")
    edited = insert_row(current, new.insert_after, row)
    save_plan(store, project, edited, based_on)
    written = {s.section_id for s in store.sections(project)}

    def row(i, section):
        mark = "written" if section.id in written else "to write"
        return f"  {i:>2}. [{section.id}] {section.title} ({section.words} words, {mark})"

    for line in plan_lines(edited, LANGUAGE["chosen"], row):
        click.echo(line)
    click.echo(
        f"Inserted; `longwrite write --resume {project.name!r}` writes the new row.", err=True
    )


@cli.command()
@click.argument("instruction", required=False, type=USER_TEXT)
@click.option(
    "--words", type=int, help="Total length in words (default: the number in the instruction)."
)
@click.option(
    "--mode", type=click.Choice(["agentwrite", "single"]), default="agentwrite", show_default=True
)
@click.option(
    "--plan", "plan_file", type=click.Path(path_type=str), help="A plan JSON to write from."
)
@click.option(
    "--bible",
    "bible_file",
    type=click.Path(path_type=str),
    help="Story bible: plain text, or Markdown with one `## Name` heading per entry.",
)
@click.option(
    "--project", "project_name", type=USER_TEXT, help="Project name (default: the instruction)."
)
@db_option
@click.option(
    "-o", "--output", type=click.Path(path_type=str), help="Write the piece as Markdown here."
)
@click.option(
    "--stats-json", type=click.Path(path_type=str), help="Write run statistics as JSON here."
)
@click.option("--seed", type=int)
@click.option(
    "--resume", "resume_name", type=USER_TEXT, help="Continue a stopped or killed project by name."
)
@click.option("--no-repetition-guard", is_flag=True, help="Turn off loop cutting and penalties.")
@click.option(
    "--scenes-up-front",
    is_flag=True,
    help="Over 8,000 words: draft every chapter's scenes before writing, not as each is reached.",
)
@stack_options(style_options)
@model_options
@threads_option
@gather("piece", PieceOptions)
@gather("writing", WritingOptions)
@gather("outputs", Outputs)
def write(
    piece: PieceOptions,
    writing: WritingOptions,
    outputs: Outputs,
    db,
    resume_name,
    load: LoadSettings,
):
    """Plan and write a piece section by section, saving every section as it streams; over
    8,000 words chapter by chapter, each chapter's scenes drafted when it is reached and a recap
    of it written when it ends.

    INSTRUCTION may be "-" to read it from standard input."""
    from engine.models.backends import open_backend
    from engine.store.database import Store

    for path in (outputs.output, outputs.stats_json):
        if path:
            _check_writable(Path(path))  # before a long generation, not after it
    style = _style_choice(writing.styles, writing.style_sample_file)
    store = Store(db)
    if resume_name:
        from engine.store.lock import check_free

        project = store.project(resume_name)
        check_free(store.db.conn, project.id, project.name)
        resumed = project.model.updated_by(load)  # what was given now over what was saved
        if load.chosen:
            project = store.update_project(project, model=resumed)
        if style:
            settings = project.settings.model_copy(update=style)
            project = store.update_project(project, settings=settings)
        backend = open_backend(resumed)
        plan_usage = None
        click.echo(f"Resuming {project.name!r}.", err=True)
    else:
        piece = replace(piece, instruction=_instruction_text(piece.instruction))
        if not piece.instruction:
            raise UserError(key="error.say_what")
        project, backend, plan_usage = _new_project(store, piece, writing.settings(style), load)
    stats = _run_with_progress(store, project, backend, plan_usage)
    output, stats_json = outputs.output, outputs.stats_json
    if output:
        from engine.export import export_document
        from engine.projects.run import project_document

        export_document(project_document(store, store.project(project.name)), "md", Path(output))
        click.echo(f"Written to {output}.", err=True)
    if stats_json:
        _write_text(Path(stats_json), stats.model_dump_json(indent=2) + "\n")
    click.echo(
        f"{stats.words:,} words of {stats.target_words:,} (length score {stats.length_score:.1f}), "
        f"{stats.output_tokens:,} tokens at {stats.decode_tokens_per_s} tok/s, "
        f"{stats.wall_s:.0f} s. "
        f"Project: {project.name!r}.",
        err=True,
    )


def _style_choice(styles, sample_file) -> dict:
    """The WriteSettings fields the style options set ({} when none was given)."""
    from app.book_cli import style_presets, style_sample

    chosen = {}
    if styles:
        chosen["style"] = style_presets(styles)
    if sample_file:
        chosen["style_sample"] = style_sample(_read_text(sample_file), sample_file)
    return chosen


def _new_project(store, piece: PieceOptions, settings: WriteSettings, model: LoadSettings):
    """Create the project `write` asked for (its plan loaded, fitted or drafted) and open its
    model; returns the project, the backend and the plan's usage when one was drafted."""
    from app.book_cli import plan_lines
    from engine.models.backends import open_backend
    from engine.planning.book_plan import draft_any_plan
    from engine.planning.plan import load_plan_file
    from engine.planning.title import draft_title
    from engine.projects.service import (
        check_brief,
        create_project,
        fit_plan,
        name_from_instruction,
        single_pass_plan,
    )

    instruction, words, project_name = piece.instruction, piece.words, piece.project_name
    bible = _read_bible(piece.bible_file)
    plan = load_plan_file(piece.plan_file) if piece.plan_file else None
    if plan is not None and words is None:
        words = plan.total_words
    words = _target_words(instruction, words)
    check_brief(instruction, bible, words)
    if project_name is not None and not clean_name(project_name):
        raise UserError(key="error.project_option_name")
    name = store.unique_name(project_name or name_from_instruction(clean_name(instruction)))
    if plan is not None:
        plan = fit_plan(plan, words)
    elif settings.mode == "single":
        plan = single_pass_plan(name, instruction, words)
    backend = open_backend(model)
    plan_usage = None
    if plan is None:
        seed, up_front = settings.sampling.seed, piece.scenes_up_front
        _say(_drafting_key(words, up_front))
        plan = draft_any_plan(backend, instruction, words, bible, seed, up_front)
        plan_usage = backend.last_usage
        title = draft_title(backend, instruction, seed)  # drafted with the plan, not the name
        plan_usage = plan_usage + backend.last_usage  # the run's figures count the title too
    project = create_project(store, name, instruction, words, bible, settings, model, plan)
    if plan_usage is not None:
        project = store.update_project(project, title=title)
        _say("cli.titled", title=title)
    for line in plan_lines(
        plan, LANGUAGE["chosen"], lambda i, s: f"  {i:>2}. {s.title} ({s.words} words)"
    ):
        click.echo(line, err=True)
    return project, backend, plan_usage


def _run_with_progress(store, project, backend, plan_usage):
    """Run the project with a progress bar on stderr; Ctrl-C stops it with everything saved."""
    from app.book_cli import progress_line
    from engine.projects.run import run_project
    from engine.projects.service import Progress, finished_words
    from engine.writing.events import ChapterPlanned, LoopCut, RunFinished, SectionStarted

    plan = store.plan(project)
    progress = Progress(plan.total_words, finished_words(store, project))
    bar = tqdm(
        total=plan.total_words,
        unit="word",
        file=sys.stderr,
        dynamic_ncols=True,
        initial=progress.words,
        bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} words "
        "[{elapsed}<{remaining}{postfix}]",
    )
    events = run_project(store, project, backend, plan_usage)
    try:
        for event in events:
            snapshot = progress.update(event)
            if snapshot is not None:
                bar.update(snapshot.words - bar.n)
                bar.set_postfix_str(f"{snapshot.tokens_per_s:.0f} tok/s", refresh=False)
            if isinstance(event, ChapterPlanned):  # saved before it is announced
                plan = store.plan(project)
                bar.total = progress.target = plan.total_words
            line = progress_line(event, plan, LANGUAGE["chosen"])
            if line:
                bar.write(line, file=sys.stderr)
            if isinstance(event, SectionStarted):
                bar.set_description(_bar_description(event, plan))
            elif isinstance(event, LoopCut):
                bar.write(
                    f"section {event.index + 1}: the model repeated itself; cut back to "
                    f"{event.kept_words} words and went on.",
                    file=sys.stderr,
                )
            elif isinstance(event, RunFinished):
                return event.stats
    except KeyboardInterrupt:
        events.close()
        raise UsageProblem(
            f"Stopped. Everything written is saved; continue with "
            f"`longwrite write --resume {project.name!r}`."
        ) from None
    finally:
        bar.close()
    raise UserError(key="error.run_unfinished")


def _bar_description(event, plan) -> str:
    """The progress bar's label: the section, or in a book the chapter and scene."""
    chapter = plan.chapter_of(event.index) if event.index < len(plan.sections) else None
    if chapter is None:
        return f"section {event.index + 1}/{event.count}"
    scenes = plan.scene_range(chapter.id)
    return messages.text(
        "cli.bar_scene",
        LANGUAGE["chosen"],
        number=plan.chapter_index(chapter.id) + 1,
        count=len(plan.chapters),
        scene=event.index - scenes.start + 1,
        scenes=len(scenes),
    )


@cli.group(
    cls=LazyGroup,
    lazy_commands={
        "show": "app.projects_cli:show",
        "history": "app.projects_cli:history",
        "plan": "app.projects_cli:plan_file",
        "set-plan": "app.projects_cli:set_plan",
        "start-over": "app.projects_cli:start_over",
    },
    invoke_without_command=True,
)
@db_option
@click.pass_context
def projects(ctx, db):
    """List projects with their length and status; `projects show NAME` details one,
    `projects history NAME SECTION` lists a section's versions, `projects plan` and
    `projects set-plan` take a plan out to edit and back, `projects start-over` sets the text
    aside (undoable)."""
    from engine.store.database import Store

    if ctx.invoked_subcommand is not None:
        return

    rows = Store(db).list_projects()
    if not rows:
        click.echo('No projects yet. Start one with: longwrite write "a 2,000-word story about…"')
    for row in rows:
        title = f"\t{printable(row.title)}" if row.title != row.name else ""
        click.echo(
            f"{printable(row.name)}\t{row.words:,}/{row.target_words:,} words\t{row.status}\t"
            f"{row.updated_at}{title}"
        )


@cli.group(
    cls=LazyGroup,
    lazy_commands={
        "gguf": "app.gguf_cli:export_gguf",
        "gguf-lora": "app.voice_cli:export_gguf_lora",
    },
)
def export() -> None:
    """Export a document, or a trained checkpoint as GGUF."""


@export.command("doc")
@click.argument("project_name", type=USER_TEXT)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "docx", "epub"]),
    default="md",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=str), required=True)
@click.option(
    "--manuscript",
    is_flag=True,
    help="With --format docx: standard manuscript format (Times 12 pt, double-spaced, 1-inch "
    "margins, running header, title page with your contact and the word count).",
)
@click.option("--author", type=USER_TEXT, help="Your name for the manuscript (saved once).")
@click.option(
    "--contact", type=USER_TEXT, help="Your contact lines, \\n between lines (saved once)."
)
@db_option
def export_doc(project_name, fmt, output, manuscript, author, contact, db):
    """Export a project's text as Markdown, HTML, DOCX or EPUB."""
    from engine.export import export_document
    from engine.projects.run import project_document
    from engine.store.database import Store

    store = Store(db)
    project = store.project(project_name)
    if manuscript:
        from engine.projects.manuscript_format import export_manuscript

        if fmt != "docx":
            raise UserError(key="error.manuscript_docx_only")
        contact = contact.replace("\\n", "\n") if contact is not None else None
        export_manuscript(store, project, Path(output), author, contact)
    else:
        export_document(project_document(store, project), fmt, Path(output))
    click.echo(f"Exported {project_name!r} to {output}.", err=True)


def _target_words(instruction: str, words: int | None) -> int:
    from engine.planning.plan import words_from_instruction

    if words is None:
        words = words_from_instruction(instruction or "")
    if words is None:
        raise UserError(key="error.words_unknown")
    return words


def _instruction_text(argument: str | None) -> str | None:
    """The instruction as given, or read from standard input when it is "-"."""
    if argument != "-":
        return argument
    return sys.stdin.buffer.read().decode("utf-8", "replace")


def _read_bible(path: str | None) -> str:
    """The bible file's text; says how many entries it holds (one `## Name` each)."""
    from app.book_cli import bible_summary

    bible = _read_text(path)
    summary = bible_summary(bible, LANGUAGE["chosen"])
    if summary:
        click.echo(summary, err=True)
    return bible


def _read_text(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(key="error.read_text_file", path=path, problem=error) from None


def _check_writable(path: Path) -> None:
    """Fail now, with one line, when path cannot be written (a missing folder, a directory,
    no permission); a file this creates to find out is removed again."""
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as error:
        raise UserError(key="error.cannot_write", path=path, problem=error.strerror) from None
    if not existed:
        path.unlink(missing_ok=True)


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(key="error.cannot_write", path=path, problem=error.strerror) from None


def main() -> None:
    cli()
