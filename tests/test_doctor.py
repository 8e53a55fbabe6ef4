"""`longwrite doctor` on this machine: the real llama.cpp build, embedded model and database."""

import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import llama_cpp
import pytest

from app.doctor import _backends, check_database
from engine.models.discovery import embedded_model_path
from engine.store.database import Store
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # the doctor loads the embedded model


def test_doctor_reports_this_cpu_build_the_embedded_model_and_the_database(tmp_path):
    db_path = tmp_path / "data" / "projects.db"
    Store(db_path).create_project("Lighthouse", "a 1,500-word story about a lighthouse", 1500)
    backups = db_path.parent / "backups"
    backups.mkdir()
    backup = backups / "projects-20260301-120000-000-daily.db"
    backup.write_bytes(b"")
    taken = datetime(2026, 3, 1, 12, 0).timestamp()
    os.utime(backup, (taken, taken))
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(embedded_model_path(), models / "small.gguf")

    result = run_cli("doctor", "--db", str(db_path), "--models-dir", str(models))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    # this machine's build is CPU only, without BLAS; a GPU build must say so instead
    cpu_only = not llama_cpp.llama_supports_gpu_offload()
    assert ("GPU offload no, CPU only" in out) == cpu_only
    assert ("GPU offload yes (" in out) != cpu_only
    assert "CPU : " in out and "AVX" in out  # llama.cpp's own system info line
    assert "Embedded model: Smollm2 135M 8k Lc100K Mix1 Ep2 (Q4_1" in out
    assert "loads and runs in" in out and str(embedded_model_path()) in out
    assert "llama-cpp-python 0.3.36" in out and "longwrite-studio " in out
    assert f"Models folder: {models} (1 GGUF file(s))" in out and "small.gguf  94 MB" in out
    assert f"Database: {db_path}" in out and "1 project(s)" in out
    assert "last backup: " + datetime.fromtimestamp(taken).strftime("%Y-%m-%d %H:%M") in out
    assert "Memory: " in out and "the embedded model needs about" in out
    assert "Disk: " in out
    assert "Chromium (only the tests need it): " in out
    assert out.rstrip().endswith("Ready: `longwrite studio` opens the studio.")
    assert result.stderr == ""


def test_doctor_exits_2_with_one_line_when_the_database_is_unreadable(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"these are not the pages of an SQLite database" * 100)

    result = run_cli("doctor", "--db", str(junk))

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: The database {junk} cannot be read")
    assert "pass another --db" in result.stderr
    assert f"Database: {junk} is unreadable" in result.stdout  # the rest is still reported
    assert "Embedded model: " in result.stdout
    assert junk.read_bytes().startswith(b"these are not")  # left as it was


def test_a_missing_database_is_reported_and_not_created(tmp_path):
    path = tmp_path / "none" / "projects.db"
    check = check_database(path)
    assert check.problem is None and "not created yet" in check.lines[0]
    assert not path.parent.exists()


def test_an_sqlite_file_of_another_program_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("create table photos (id integer)")
    check = check_database(path)
    assert check.problem == (
        f"{path} is an SQLite file without longwrite projects; pass another --db."
    )


@pytest.mark.parametrize(
    "info, backends",
    [
        ("CPU : SSE3 = 1 | AVX = 1 | OPENMP = 1 | REPACK = 1", ["CPU"]),
        (
            "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | "
            "CPU : SSE3 = 1 | AVX2 = 1",
            ["CUDA", "CPU"],
        ),
        (
            "Metal : EMBED_LIBRARY = 1 | BLAS : ACCELERATE = 1 | CPU : NEON = 1",
            ["Metal", "BLAS", "CPU"],
        ),
    ],
)
def test_backends_are_read_from_llamas_system_info(info, backends):
    assert _backends(info) == backends


def test_doctor_never_imports_torch():
    """torch takes seconds and gigabytes to import: the doctor reads its version only."""
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from app.doctor import doctor; "
        "CliRunner().invoke(doctor, ['--db', sys.argv[1]]); print('torch' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code, str(repo / "missing" / "x.db")],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_too_little_memory_for_the_embedded_model_is_the_thing_to_fix(monkeypatch, tmp_path):
    """The real embedded model's needs: its file, 30 layers × 192 K/V widths × 8,192 tokens
    in f16, and the working buffers."""
    import psutil

    from app import doctor

    check, model = doctor.load_embedded_model()
    assert check.problem is None and model is not None
    needs = doctor.model_needs_bytes(model, 8192)
    from engine.models.load_plan import OVERHEAD_BYTES

    assert needs == model.file_bytes + 2 * 30 * 192 * 8192 * 2 + OVERHEAD_BYTES

    memory = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory._replace(available=needs - 1))
    resources = doctor.check_resources(model, tmp_path)
    assert resources.problem.startswith("Only ") and "close other programs" in resources.problem
