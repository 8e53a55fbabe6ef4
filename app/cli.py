"""The `longwrite` command line."""

import sqlite3
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from app.lazy_group import LazyGroup
from engine.errors import UserError
from engine.options import model_options, threads_option
from engine.text_hygiene import clean_name, printable, repair_decoding

MAX_TITLE_CHARS = 200  # a plan row's title


class UsageProblem(click.ClickException):
    """A UserError shown as one line, with exit status 2."""

    exit_code = 2


class Longwrite(LazyGroup):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as error:
            raise UsageProblem(str(error)) from None
        except sqlite3.DatabaseError as error:  # a damaged page found while reading
            from engine.backup import database_problem

            raise UsageProblem(database_problem(ctx.meta.get(DB_PATH_KEY), error)) from None


class UserText(click.ParamType):
    """Text typed by the user: bytes that were not UTF-8 become U+FFFD instead of surrogates
    that no file, database or terminal accepts."""

    name = "text"

    def convert(self, value, param, ctx):
        return repair_decoding(value) if isinstance(value, str) else value


USER_TEXT = UserText()
DB_PATH_KEY = "longwrite.db_path"


def _remember_db(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Keep the database path where an error handler finds it (ctx.meta is shared)."""
    from engine.store import default_db_path

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
        "eval": "training.eval.cli:eval_group",
        "train": "training.cli:train",
        "data": "training.cli:data",
        "backup": "app.backup_cli:backup",
        "restore": "app.backup_cli:restore",
    },
)
@click.version_option(package_name="longwrite-studio")
def cli() -> None:
    """Plan, edit and write long pieces with a local language model."""


@cli.command()
@click.argument("instruction", type=USER_TEXT)
@click.option(
    "--words", type=int, help="Total length in words (default: the number in the instruction)."
)
@click.option(
    "--bible", "bible_file", type=click.Path(path_type=str), help="Story bible text file."
)
@click.option("-o", "--output", type=click.Path(path_type=str), help="Write the plan JSON here.")
@click.option("--seed", type=int)
@model_options
@threads_option
def plan(
    instruction, words, bible_file, output, seed, model_path, base_url, model_name, n_ctx, threads
):
    """Draft a plan (one row per section) as JSON you can edit and pass to `write --plan`.

    INSTRUCTION may be "-" to read it from standard input."""
    from engine.backends import open_backend
    from engine.plan import draft_plan

    if output:
        _check_writable(Path(output))
    instruction = _instruction_text(instruction)
    words = _target_words(instruction, words)
    backend = open_backend(model_path, base_url, model_name, n_ctx, threads)
    click.echo("Drafting the plan…", err=True)
    drafted = draft_plan(backend, instruction, words, _read_text(bible_file), seed)
    text = drafted.model_dump_json(indent=2)
    if output:
        _write_text(Path(output), text + "\n")
        click.echo(f"Plan with {len(drafted.sections)} sections written to {output}.", err=True)
    else:
        click.echo(text)


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
    "--bible", "bible_file", type=click.Path(path_type=str), help="Story bible text file."
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
@model_options
@threads_option
def write(
    instruction,
    words,
    mode,
    plan_file,
    bible_file,
    project_name,
    db,
    output,
    stats_json,
    seed,
    resume_name,
    no_repetition_guard,
    model_path,
    base_url,
    model_name,
    n_ctx,
    threads,
):
    """Plan and write a piece section by section, saving every section as it streams.

    INSTRUCTION may be "-" to read it from standard input."""
    from engine.backends import open_spec
    from engine.store import Store

    for path in (output, stats_json):
        if path:
            _check_writable(Path(path))  # before a long generation, not after it
    store = Store(db)
    if resume_name:
        from engine.project_lock import check_free

        project = store.project(resume_name)
        check_free(store.db.conn, project.id, project.name)
        if any((model_path, base_url, n_ctx)):
            project = store.update_project(
                project, model=_model_spec(model_path, base_url, model_name, n_ctx)
            )
        backend = open_spec(project.model, threads)
        plan_usage = None
        click.echo(f"Resuming {project.name!r}.", err=True)
    else:
        instruction = _instruction_text(instruction)
        if not instruction:
            raise UsageProblem(
                'Say what to write: longwrite write "a 3,000-word story about…" '
                "(or --resume PROJECT)."
            )
        project, backend, plan_usage = _new_project(
            store,
            instruction,
            words,
            mode,
            plan_file,
            bible_file,
            project_name,
            seed,
            no_repetition_guard,
            _model_spec(model_path, base_url, model_name, n_ctx),
            threads,
        )
    stats = _run_with_progress(store, project, backend, plan_usage)
    if output:
        from engine.export import export_document
        from engine.session import project_document

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


def _model_spec(model_path, base_url, model_name, n_ctx):
    from engine.schema import ModelSpec

    if model_path:
        model_path = str(Path(model_path).expanduser().resolve())
    return ModelSpec(model_path=model_path, base_url=base_url, model_name=model_name, n_ctx=n_ctx)


def _new_project(
    store,
    instruction,
    words,
    mode,
    plan_file,
    bible_file,
    project_name,
    seed,
    no_repetition_guard,
    model,
    threads,
):
    from engine.backends import open_spec
    from engine.plan import check_request, draft_plan, load_plan_file, rescale
    from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings

    bible = _read_text(bible_file)
    plan = load_plan_file(plan_file) if plan_file else None
    if plan is not None and words is None:
        words = plan.total_words
    words = _target_words(instruction, words)
    check_request(instruction, words)
    backend = open_spec(model, threads)
    settings = WriteSettings(
        mode=mode, sampling=SamplingSettings(seed=seed), fight_repetition=not no_repetition_guard
    )
    if project_name is not None and not clean_name(project_name):
        raise UserError("--project needs a name with letters or figures in it.")
    name = store.unique_name(project_name or _name_from(clean_name(instruction)))
    plan_usage = None
    if plan is not None:
        plan = rescale(plan, words) if words != plan.total_words else plan
    elif mode == "single":
        title = name[:MAX_TITLE_CHARS]
        plan = Plan(sections=[PlanSection(title=title, main_point=instruction[:4000], words=words)])
    else:
        click.echo("Drafting the plan…", err=True)
        plan = draft_plan(backend, instruction, words, bible, seed)
        plan_usage = backend.last_usage
    project = store.create_project(name, instruction, words, bible, settings, model)
    store.save_plan(project, plan)
    for i, section in enumerate(plan.sections, start=1):
        click.echo(f"  {i:>2}. {section.title} ({section.words} words)", err=True)
    return project, backend, plan_usage


def _run_with_progress(store, project, backend, plan_usage):
    """Run the project with a progress bar on stderr; Ctrl-C stops it with everything saved."""
    from engine.metrics import count_words
    from engine.session import RunFinished, project_document, run_project
    from engine.writer import LoopCut, SectionFinished, SectionProgress, SectionStarted

    plan = store.plan(project)
    bar = tqdm(
        total=plan.total_words,
        unit="word",
        file=sys.stderr,
        dynamic_ncols=True,
        initial=count_words(project_document(store, project).body),
        bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} words "
        "[{elapsed}<{remaining}{postfix}]",
    )
    section_words, started = 0, time.perf_counter()
    events = run_project(store, project, backend, plan_usage)
    try:
        for event in events:
            if isinstance(event, SectionStarted):
                bar.set_description(f"section {event.index + 1}/{event.count}")
                section_words, started = 0, time.perf_counter()
            elif isinstance(event, SectionProgress):
                bar.update(event.words - section_words)
                section_words = event.words
                rate = event.output_tokens / max(time.perf_counter() - started, 1e-6)
                bar.set_postfix_str(f"{rate:.0f} tok/s", refresh=False)
            elif isinstance(event, SectionFinished):
                bar.update(event.stats.words - section_words)
                section_words = event.stats.words
            elif isinstance(event, LoopCut):
                bar.write(
                    f"section {event.index + 1}: the model repeated itself; cut back to "
                    f"{event.kept_words} words and went on."
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
    raise UserError("The run ended without finishing; continue it with --resume.")


@cli.command()
@db_option
def projects(db):
    """List projects with their length and status."""
    from engine.store import Store

    rows = Store(db).list_projects()
    if not rows:
        click.echo('No projects yet. Start one with: longwrite write "a 2,000-word story about…"')
    for row in rows:
        click.echo(
            f"{printable(row.name)}\t{row.words:,}/{row.target_words:,} words\t{row.status}\t"
            f"{row.updated_at}"
        )


@cli.group(cls=LazyGroup, lazy_commands={"gguf": "training.gguf.cli:export_gguf"})
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
@db_option
def export_doc(project_name, fmt, output, db):
    """Export a project's text as Markdown, HTML, DOCX or EPUB."""
    from engine.export import export_document
    from engine.session import project_document
    from engine.store import Store

    store = Store(db)
    export_document(project_document(store, store.project(project_name)), fmt, Path(output))
    click.echo(f"Exported {project_name!r} to {output}.", err=True)


def _target_words(instruction: str, words: int | None) -> int:
    from engine.plan import words_from_instruction

    if words is None:
        words = words_from_instruction(instruction or "")
    if words is None:
        raise UsageProblem(
            "How long should it be? Pass --words N or say it in the instruction "
            '("a 2,000-word story…").'
        )
    return words


def _instruction_text(argument: str | None) -> str | None:
    """The instruction as given, or read from standard input when it is "-"."""
    if argument != "-":
        return argument
    return sys.stdin.buffer.read().decode("utf-8", "replace")


def _name_from(instruction: str) -> str:
    words = instruction.split()
    return " ".join(words[:6])[:60] or "untitled"


def _read_text(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"Cannot read {path}: {error}. Give a UTF-8 text file.") from None


def _check_writable(path: Path) -> None:
    """Fail now, with one line, when path cannot be written (a missing folder, a directory,
    no permission); a file this creates to find out is removed again."""
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as error:
        raise UserError(f"Cannot write {path}: {error.strerror}. Choose another path.") from None
    if not existed:
        path.unlink(missing_ok=True)


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(f"Cannot write {path}: {error.strerror}. Choose another path.") from None


def main() -> None:
    cli()
