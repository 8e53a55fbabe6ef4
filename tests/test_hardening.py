"""Issue 15, one test per defect: a stray character, a second process, a damaged database or a
bad path must not cost a writer their work. Each test fails without its fix."""

import json
import os
import sqlite3
import subprocess
import sys
import time
import zipfile

import docx
import pytest

from bench.reliability import damage_page
from engine.errors import UserError
from engine.export import Document, export_document, markdown_to_safe_html, to_html
from engine.projects.run import project_document
from engine.schema import Plan, PlanSection
from engine.store import backup
from engine.store.database import Store
from engine.store.lock import hold_project
from engine.store.safe_names import MAX_STEM_BYTES, file_stem
from engine.text_hygiene import MAX_NAME_CHARS
from tests.conftest import REPO, one_line_error, run_cli

HOSTILE = "a\x0bb\x0cc\x1b[31md\x00e\x7ff"


def _error_line(result):
    """The one "Error:" line of a failed command (progress lines may come before it)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1]
    return errors[0]


def _plan(*words: int) -> Plan:
    return Plan(
        sections=[
            PlanSection(title=f"Part {i + 1}", main_point=f"Point {i + 1}.", words=n)
            for i, n in enumerate(words)
        ]
    )


def _project_with_text(db, name="tower", texts=("First part.", "Second part.")):
    store = Store(db)
    project = store.create_project(name, "A story about a tower.", 200)
    plan = _plan(*[100] * len(texts))
    store.save_plan(project, plan)
    for section_id, text in zip(plan.ids, texts, strict=True):
        version = store.start_section(project, section_id)
        store.save_section(version, text, 10, done=True)
    store.close()


def _plan_file(tmp_path, words=30, sections=1):
    path = tmp_path / "plan.json"
    rows = [
        {"title": f"Part {i + 1}", "main_point": "A cat finds a warm spot.", "words": words}
        for i in range(sections)
    ]
    path.write_text(json.dumps({"sections": rows}))
    return path


# 1. one control character locks the writer out of their project
def test_control_characters_are_cleaned_where_text_enters_the_store(db_path):
    store = Store(db_path)
    project = store.create_project(
        "name" + HOSTILE, "instr" + HOSTILE, 100, bible="bible" + HOSTILE
    )
    plan = Plan(sections=[PlanSection(title="T" + HOSTILE, main_point="M", words=100)])
    store.save_plan(project, plan)
    version = store.start_section(project, plan.ids[0], HOSTILE)
    store.save_section(version, "text" + HOSTILE, 3, done=True)
    project = store.project(project.name)
    assert project.name == "namea b c[31mdef"  # line breaks become spaces in a name
    assert project.instruction == "instra\nb\nc[31mdef"
    assert project.bible == "biblea\nb\nc[31mdef"
    assert store.plan(project).sections[0].title == "Ta\nb\nc[31mdef"
    assert store.sections(project)[0].text == "texta\nb\nc[31mdef"
    renamed = store.rename_project(project, "new\x1bname")
    assert renamed.name == "newname"


@pytest.mark.parametrize("fmt", ["docx", "epub", "html", "md"])
def test_export_never_fails_for_control_characters(tmp_path, fmt):
    """Text saved before this fix (or handed straight to export) still exports."""
    document = Document("Title\x1b\x00", [("Head\x0b", "Para\x0cgraph\x00 one.\n\nTwo\x1b.")])
    path = tmp_path / f"out.{fmt}"
    export_document(document, fmt, path)
    if fmt == "docx":
        paragraphs = [p.text for p in docx.Document(str(path)).paragraphs]
        assert "Para\ngraph one." in paragraphs and "Two." in paragraphs
    elif fmt == "epub":
        with zipfile.ZipFile(path) as book:
            chapter = book.read("EPUB/section_1.xhtml").decode()
        assert "graph one." in chapter and "\x1b" not in chapter
    else:
        assert "\x00" not in path.read_text(encoding="utf-8")


def test_cli_exports_a_project_whose_stored_text_has_control_characters(tmp_path, db_path):
    _project_with_text(db_path, name="tower")
    with sqlite3.connect(db_path) as conn:  # as an older version stored it, unchecked
        conn.execute("update section_versions set text = ?", [HOSTILE])
        conn.execute("update projects set name = ?", ["tower\x1b"])
    conn.close()
    for fmt in ("docx", "epub"):
        out = tmp_path / f"book.{fmt}"
        result = run_cli(
            "export", "doc", "tower\x1b", "--format", fmt, "-o", str(out), "--db", str(db_path)
        )
        assert result.returncode == 0, result.stderr
        assert zipfile.is_zipfile(out)


# 2. EPUB export reports success for a file it did not write
def test_epub_to_a_missing_folder_is_an_error(tmp_path, db_path):
    document = Document("T", [("", "Some text.")])
    with pytest.raises(UserError, match="Cannot write"):
        export_document(document, "epub", tmp_path / "missing" / "book.epub")
    _project_with_text(db_path)
    result = run_cli(
        "export",
        "doc",
        "tower",
        "--format",
        "epub",
        "-o",
        str(tmp_path / "missing" / "book.epub"),
        "--db",
        str(db_path),
    )
    assert "Cannot write" in one_line_error(result)


# 4. names over 255 bytes cannot become file names
@pytest.mark.parametrize("name", ["秋" * 90, "a long name " * 40, "x/y\\z:*?<>|\x1b\u202e"])
def test_file_names_from_project_names_are_short_and_valid(tmp_path, name):
    stem = file_stem(name)
    assert 0 < len(stem.encode("utf-8")) <= MAX_STEM_BYTES
    assert not set(stem) & set("/\\:*?<>|\x1b\u202e")
    path = tmp_path / f"{stem}.docx"
    export_document(Document(name, [("", "Text.")]), "docx", path)
    assert path.stat().st_size > 0


def test_long_names_that_share_a_beginning_get_different_stems():
    first, second = "秋" * 90 + "一", "秋" * 90 + "二"
    assert file_stem(first) != file_stem(second)
    assert file_stem(first).startswith("秋" * 20)  # still readable


# 5. a database with a damaged page gives a traceback
def test_damaged_page_is_one_line_and_the_automatic_backup_restores_it(tmp_path, db_path):
    _project_with_text(db_path)
    before = run_cli("export", "doc", "tower", "-o", str(tmp_path / "before.md"), "--db", db_path)
    assert before.returncode == 0, before.stderr
    automatic = backup.backup_files(db_path)
    assert len(automatic) == 1 and "-daily" in automatic[0].name  # taken at that second open
    damage_page(db_path)
    commands = [
        ["projects"],
        ["export", "doc", "tower", "-o", str(tmp_path / "after.md")],
        ["write", "--resume", "tower"],
    ]
    for args in commands:
        message = _error_line(run_cli(*args, "--db", str(db_path)))
        assert "longwrite restore" in message and str(automatic[0]) in message
    assert not (tmp_path / "after.md").exists()
    assert backup.backup_files(db_path) == automatic  # a damaged copy never replaced it
    restored = run_cli("restore", str(automatic[0]), "--db", str(db_path))
    assert restored.returncode == 0, restored.stderr
    after = run_cli("export", "doc", "tower", "-o", str(tmp_path / "after.md"), "--db", db_path)
    assert after.returncode == 0, after.stderr
    assert (tmp_path / "after.md").read_bytes() == (tmp_path / "before.md").read_bytes()
    assert any("-replaced-" in p.name for p in (tmp_path / "backups").iterdir())


def test_daily_backups_keep_the_newest_seven(db_path):
    _project_with_text(db_path)
    assert backup.backup_files(db_path) == []  # no projects yet when it was opened
    Store(db_path).close()
    Store(db_path).close()
    daily = backup.backup_files(db_path)
    assert [p.name.rsplit("-", 1)[1] for p in daily] == ["daily.db"]  # one a day
    two_days_ago = time.time() - 2 * backup.DAY_S
    os.utime(daily[0], (two_days_ago, two_days_ago))
    Store(db_path).close()
    assert len(backup.backup_files(db_path)) == 2
    store = Store(db_path)
    for _ in range(9):
        backup.take_backup(store.db.conn, db_path, "manual")
    store.close()
    files = backup.backup_files(db_path)
    assert len(files) == backup.KEEP and all("manual" in p.name for p in files)
    assert time.time() - backup.last_backup_time(db_path).timestamp() < 60


def test_migration_backup_is_taken_before_a_pending_migration(db_path, monkeypatch):
    from engine.store import database as store_module

    _project_with_text(db_path)
    ran = []

    def m999_test(db):
        ran.append(len(backup.backup_files(db_path)))

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, ("m999", m999_test)])
    Store(db_path).close()
    names = [p.name for p in backup.backup_files(db_path)]
    assert ran == [1] and names[0].endswith("-migration.db")


def test_restore_is_refused_while_a_writer_holds_the_database(tmp_path, db_path):
    _project_with_text(db_path)
    copy = tmp_path / "copy.db"
    store = Store(db_path)
    backup.take_backup(store.db.conn, db_path, "manual", copy)
    with hold_project(store.db.conn, store.project("tower").id, "tower"):
        result = run_cli("restore", str(copy), "--db", str(db_path))
        assert "in use by" in one_line_error(result)
    store.close()
    assert run_cli("restore", str(copy), "--db", str(db_path)).returncode == 0


# 6. invalid UTF-8 in an instruction, a project name or stdin
def test_invalid_utf8_in_arguments_and_stdin_is_replaced(tmp_path, db_path):
    plan = _plan_file(tmp_path)
    base = [sys.executable, "-m", "app", "write", "--plan", str(plan), "--db", str(db_path)]
    by_argument = subprocess.run(
        [*base, b"A story about \xff\xfe a cat.", "--project", b"cat \xff"],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert by_argument.returncode == 0, by_argument.stderr.decode()
    by_stdin = subprocess.run(
        [*base, "-", "--project", "stdin cat"],
        input=b"A story about \xc3\x28 a cat.",
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert by_stdin.returncode == 0, by_stdin.stderr.decode()
    store = Store(db_path)
    assert store.project("cat \ufffd").instruction == "A story about \ufffd\ufffd a cat."
    assert store.project("stdin cat").instruction == "A story about \ufffd( a cat."
    store.close()
    listing = run_cli("projects", "--db", str(db_path))
    assert listing.returncode == 0 and "cat \ufffd" in listing.stdout


# 7. two writers at once; a killed run stays "running"
def test_a_second_writer_is_refused_naming_the_holder(tmp_path, db_path):
    _project_with_text(db_path, texts=("Only the first part.",))
    store = Store(db_path)
    with hold_project(store.db.conn, store.project("tower").id, "tower"):
        result = run_cli("write", "--resume", "tower", "--db", str(db_path))
        message = one_line_error(result)
        assert f"pid {os.getpid()}" in message and "being written by" in message
    store.close()


def test_a_dead_writer_is_taken_over_and_its_run_marked_interrupted(tmp_path, db_path):
    plan = _plan_file(tmp_path, words=60, sections=3)
    writer = subprocess.Popen(
        [sys.executable, "-m", "app", "write", "A cat story.", "--plan", str(plan)]
        + ["--project", "cat", "--db", str(db_path)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while _texts(db_path) == 0:
            assert writer.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        writer.kill()
        writer.wait()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("select status from runs").fetchall() == [("running",)]
        assert conn.execute("select count(*) from locks").fetchone()[0] == 1
    conn.close()
    Store(db_path).close()  # the next open notices the dead writer
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("select status from runs").fetchall() == [("interrupted",)]
        assert conn.execute("select status from projects").fetchall() == [("interrupted",)]
        assert conn.execute("select count(*) from locks").fetchone()[0] == 0
    conn.close()
    resumed = run_cli("write", "--resume", "cat", "--db", str(db_path))
    assert resumed.returncode == 0, resumed.stderr


def _texts(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(
                "select count(*) from section_versions where length(text) > 0"
            ).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


# 9. smaller
def test_a_device_as_model_gets_a_clear_error(tmp_path):
    result = run_cli("write", "a story", "--words", "100", "--model", "/dev/null")
    message = one_line_error(result)
    assert "not a regular file" in message and "directory" not in message


@pytest.mark.parametrize("command", ["write", "plan"])
def test_output_path_is_checked_before_generating(tmp_path, db_path, command):
    bad = str(tmp_path / "missing" / "out.md")
    args = [command, "A 300-word story about a cat.", "-o", bad]
    if command == "write":
        args += ["--db", str(db_path)]
    started = time.monotonic()
    message = one_line_error(run_cli(*args))
    assert "Cannot write" in message and "missing" in message
    assert time.monotonic() - started < 30  # no plan was drafted first
    assert not db_path.exists() or not Store(db_path).list_projects()


def test_names_print_with_control_characters_escaped(db_path):
    store = Store(db_path)
    store.create_project("evil\u202eexe.txt \x1b]0;x", "An instruction.", 100)
    store.close()
    listing = run_cli("projects", "--db", str(db_path))
    assert listing.returncode == 0
    assert "evilexe.txt ]0;x" in listing.stdout  # ESC and the override dropped when stored
    assert "\u202e" not in listing.stdout and "\x1b" not in listing.stdout


def test_names_lose_bidirectional_controls_and_are_cut_to_a_length(db_path):
    store = Store(db_path)
    project = store.create_project("Keeper\u202e\u2066's\u200f log\u202c", "Write.", 100)
    assert project.name == "Keeper's log"
    assert store.rename_project(project, "\u202etxt.exe").name == "txt.exe"
    long = store.create_project("秋" * 150 + "end", "Write.", 100)
    assert long.name == "秋" * MAX_NAME_CHARS
    assert store.project("秋" * 150 + "end").id == long.id  # found by the name as typed


def test_names_stored_before_the_cleaning_are_cleaned_when_the_database_opens(db_path):
    store = Store(db_path)
    store.create_project("Keeper", "Write.", 100)
    store.db.execute(
        "insert into projects (name, instruction, target_words, settings, model, status, "
        "updated_at) values (?, 'x', 100, '{}', '{}', 'new', '')",
        ["Kee\u202eper"],
    )
    store.db.execute("delete from _migrations where name = 'm005_clean_names'")
    store.db.conn.commit()
    store.close()
    names = [p.name for p in Store(db_path).list_projects()]
    assert sorted(names) == ["Keeper", "Keeper (2)"]


def test_remote_images_are_removed_and_local_ones_kept(tmp_path):
    text = (
        "![pixel](https://tracker.example/p.gif) ![p2](//tracker.example/p.gif)\n\n"
        '<img src="http://tracker.example/q.gif"> ![map](images/map.png) '
        "![dot](data:image/png;base64,iVBORw0KGgo=) [a link](https://example.org)\n\n"
        '<a href="data:text/html,<script>alert(1)</script>">x</a>'
    )
    safe = markdown_to_safe_html(text)
    assert "tracker.example" not in safe
    assert 'src="images/map.png"' in safe and 'src="data:image/png;base64' in safe
    assert 'href="https://example.org"' in safe and "data:text/html" not in safe
    assert "tracker.example" not in to_html(Document("T", [("", text)]))
    path = tmp_path / "book.epub"
    export_document(Document("T", [("", text)]), "epub", path)
    with zipfile.ZipFile(path) as book:
        assert "tracker.example" not in book.read("EPUB/section_1.xhtml").decode()


def test_project_document_of_legacy_control_characters_is_exportable(db_path, tmp_path):
    """The studio builds exports from project_document; raw legacy text must not break it."""
    _project_with_text(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("update section_versions set text = ?", ["\x0bvertical\x00 tab"])
    conn.close()
    store = Store(db_path)
    document = project_document(store, store.project("tower"))
    export_document(document, "docx", tmp_path / "x.docx")
    store.close()


def test_database_problems_say_what_to_do(db_path):
    assert "try again" in backup.database_problem(db_path, sqlite3.OperationalError("locked"))
    full = backup.database_problem(db_path, sqlite3.OperationalError("database or disk is full"))
    assert "disk space" in full
    damaged = backup.database_problem(db_path, sqlite3.DatabaseError("malformed"))
    assert "no backup" in damaged and "nothing was changed" in damaged


@pytest.mark.parametrize(("name", "code"), [("\x12", 2), ("秋" * 150 + " stdin", 0)])
def test_single_mode_names_of_control_characters_or_over_200_characters(db_path, name, code):
    """Found by bench/reliability.py: the name became the plan row's title unchecked."""
    result = run_cli(
        "write", "A note.", "--project", name, "--words", "12", "--mode", "single", "--db", db_path
    )
    assert result.returncode == code and "Traceback" not in result.stderr, result.stderr
