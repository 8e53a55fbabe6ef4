"""The project database: sqlite-utils on one SQLite file (WAL); its migrations are in migrations.py.

Projects own plan versions, section versions (every generated text is kept) and runs. The
section being written is saved at most every `AUTOSAVE_INTERVAL_S` seconds while it streams, so
a killed process loses at most that much text.
"""

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import platformdirs
import sqlite_utils

from engine.errors import UserError
from engine.metrics import count_words
from engine.models.settings import LoadSettings
from engine.schema import Plan, WriteSettings
from engine.store import backup
from engine.store import lock as project_lock
from engine.store.migrations import MIGRATIONS, Migration
from engine.text_hygiene import clean_fields, clean_model, clean_name, clean_text

AUTOSAVE_INTERVAL_S = 1.0
WAL_SWITCH_ATTEMPTS = 40  # 50 ms apart
BRIEF_FIELDS = frozenset({"name", "instruction", "bible", "target_words", "settings"})
VERSION_KINDS = ("written", "rewrite", "edit", "restore", "imported")


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("longwrite")) / "longwrite.db"


def _belongs(row: dict, owner: str | None) -> bool:
    """Whether a project row may be seen by `owner` (None: by everyone, as without sign-in)."""
    return owner is None or row.get("owner") == owner


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Project:
    id: int
    name: str
    instruction: str
    bible: str
    target_words: int
    settings: WriteSettings
    model: LoadSettings
    status: str
    created_at: str
    updated_at: str
    title: str = ""  # the book's title; "" until drafted or typed (exports then use the name)
    owner: str | None = None  # the writer it belongs to on a studio with sign-in (None: no one)

    @property
    def book_title(self) -> str:
        return self.title or self.name


@dataclass
class Section:
    """One version of a section: `idx` is its row in the current plan (None when the row was
    deleted from the plan), `section_id` the row's stable id."""

    section_id: str
    idx: int | None
    version_id: int
    text: str
    status: str  # "writing" (partial, autosaved) or "done"
    output_tokens: int
    kind: str = "written"  # one of VERSION_KINDS: how this version was made
    created_at: str = ""
    source_version_id: int | None = None  # what a rewrite was made from, or a restore copied


@dataclass(frozen=True)
class Versions:
    """What a write is based on: a snapshot of one project's versions, taken when a page shows
    the project (or a plan file is exported) and handed back with the write.

    `brief` counts the writes to the name, instruction, bible, target and settings; `plan` is the
    latest plan version (None before the first plan); `sections` maps each section id with a
    current text to that text's version id. The project service refuses a write whose part of
    this snapshot is no longer current (`engine.projects.service.check_current`)."""

    project_id: int
    brief: int
    plan: int | None
    sections: dict[str, int] = field(default_factory=dict)


@dataclass
class Recap:
    """What a finished chapter told: written by the model, or `edited` by the writer."""

    chapter_id: str
    text: str
    edited: bool


@dataclass
class Run:
    """One writing run; `stats` is the RunStats dump of a finished run, else None."""

    id: int
    started_at: str
    finished_at: str | None
    status: str
    stats: dict | None


@dataclass
class ProjectSummary:
    name: str
    title: str
    words: int
    target_words: int
    status: str
    updated_at: str


class Store:
    """All reads and writes of the project database."""

    def __init__(self, path: str | Path | None = None):
        path = self.path = Path(path) if path else default_db_path()
        self._transaction_depth = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(path)
            self._enable_wal()
            self._migrate()
            project_lock.recover_dead_runs(self.db.conn)
            backup.daily_backup(self.db.conn, path)
        except UserError:
            raise
        except sqlite3.DatabaseError as error:  # damaged: say how to restore, never overwrite
            raise backup.database_error(path, error) from None
        except Exception as error:  # sqlite3.DatabaseError, PermissionError, …
            raise UserError(key="error.database_open", path=path, problem=error) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: BEGIN IMMEDIATE takes the database's write lock first, so what
        is read and checked inside is still true when the writes commit (a second connection
        waits its busy timeout). Nested uses join the outermost one, which commits or, on an
        exception, rolls everything back. Writes inside use plain SQL: sqlite-utils' table
        methods commit on their own."""
        if self._transaction_depth:
            self._transaction_depth += 1
            try:
                yield
            finally:
                self._transaction_depth -= 1
            return
        conn = self.db.conn
        if conn.in_transaction:  # a statement opened one implicitly: end it first
            conn.commit()
        conn.execute("BEGIN IMMEDIATE")
        self._transaction_depth = 1
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            self._transaction_depth = 0

    def versions(self, project: Project) -> Versions:
        """The project's versions now (see Versions). One statement reads them all, so they are
        consistent, and a reader never waits for a writer (WAL)."""
        row = self.db.execute(
            "select brief_version, "
            "(select max(version) from plans where project_id = p.id), "
            "(select json_group_object(section_id, version_id) from sections "
            "where project_id = p.id) "
            "from projects p where id = ?",
            [project.id],
        ).fetchone()
        if row is None:
            raise UserError(key="error.project_deleted")
        return Versions(project.id, row[0], row[1], json.loads(row[2] or "{}"))

    def _enable_wal(self) -> None:
        """Switch the file to WAL. When two processes switch a new file at once, SQLite answers
        one of them "locked" at once instead of waiting its busy timeout, so ask again."""
        for attempt in range(WAL_SWITCH_ATTEMPTS):
            try:
                self.db.enable_wal()
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        """Apply the migrations this database lacks, one process at a time.

        BEGIN IMMEDIATE takes the write lock first, so a second process opening a new database
        at the same moment waits (busy timeout) and then finds the migrations applied. All of
        them commit together, so a migration must not commit itself (no `with db.conn:`).
        """
        if not self._pending_migrations():
            return
        backup.backup_before_migration(self.db.conn, self.path)
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self.db["_migrations"].create(
                {"name": str, "applied_at": str}, pk="name", if_not_exists=True
            )
            for name, function in self._pending_migrations():
                function(self.db)
                conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _now()))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def _pending_migrations(self) -> list[tuple[str, Migration]]:
        table = self.db["_migrations"]
        applied = {row["name"] for row in table.rows} if table.exists() else set()
        return [(name, function) for name, function in MIGRATIONS if name not in applied]

    # projects
    def create_project(
        self,
        name: str,
        instruction: str,
        target_words: int,
        bible: str = "",
        settings: WriteSettings | None = None,
        model: LoadSettings | None = None,
    ) -> Project:
        name = clean_name(name)
        self.check_name_free(name)
        now = _now()
        self.db["projects"].insert(
            {
                "name": name,
                "instruction": clean_text(instruction),
                "bible": clean_text(bible),
                "target_words": target_words,
                "settings": (settings or WriteSettings()).model_dump_json(),
                "model": (model or LoadSettings()).model_dump_json(),
                "status": "new",
                "created_at": now,
                "updated_at": now,
            }
        )
        return self.project(name)

    def check_name_free(self, name: str) -> None:
        """A UserError when the name is blank or another project has it."""
        name = name.strip()
        if not name:
            raise UserError(key="error.project_name_missing")
        if self._project_row(name):
            raise UserError(key="error.project_exists", name=name)

    def _project_row(self, name: str) -> dict | None:
        return next(self.db["projects"].rows_where("name = ?", [name]), None)

    def project(self, name: str, owner: str | None = None) -> Project:
        """The project with this name; with an `owner`, only one of theirs (another writer's
        is refused as if it did not exist)."""
        row = self._project_row(name) or self._project_row(clean_name(name))
        if row is None or not _belongs(row, owner):
            raise UserError(key="error.no_project", name=name)
        return Project(
            id=row["id"],
            name=row["name"],
            instruction=row["instruction"],
            bible=row["bible"] or "",
            target_words=row["target_words"],
            settings=WriteSettings.model_validate_json(row["settings"]),
            model=LoadSettings.model_validate_json(row["model"]),
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            title=row.get("title") or "",
            owner=row.get("owner"),
        )

    def update_project(self, project: Project, **fields: object) -> Project:
        """Set project fields (unchecked: the service's save_brief checks the version first);
        a change to a brief field (BRIEF_FIELDS) counts as a new brief version."""
        values = {
            key: value.model_dump_json() if hasattr(value, "model_dump_json") else value
            for key, value in clean_fields(fields).items()
        }
        values["updated_at"] = _now()
        assignments = ", ".join(f"{key} = ?" for key in values)
        if BRIEF_FIELDS & values.keys():
            assignments += ", brief_version = brief_version + 1"
        with self.transaction():
            self.db.execute(
                f"update projects set {assignments} where id = ?", [*values.values(), project.id]
            )
        return self.project_by_id(project.id)

    def project_by_id(self, project_id: int, owner: str | None = None) -> Project:
        """The project with this id (a studio session keeps ids, which survive renames); with
        an `owner`, only one of theirs (another writer's reads as deleted)."""
        row = next(self.db["projects"].rows_where("id = ?", [project_id]), None)
        if row is None or not _belongs(row, owner):
            raise UserError(key="error.project_deleted")
        return self.project(row["name"])

    def touch_project(self, project: Project) -> None:
        """Mark the project as edited now (the studio lists projects by last edit)."""
        with self.transaction():
            self.db.execute("update projects set updated_at = ? where id = ?", [_now(), project.id])

    def rename_project(self, project: Project, new_name: str) -> Project:
        new_name = clean_name(new_name)
        if not new_name:
            raise UserError(key="error.project_name_missing")
        if new_name != project.name and self._project_row(new_name):
            raise UserError(key="error.project_exists", name=new_name)
        return self.update_project(project, name=new_name)

    def duplicate_project(self, project: Project, new_name: str) -> Project:
        """A copy with the same brief, every plan version and the current text of each section."""
        copy = self.create_project(
            new_name,
            project.instruction,
            project.target_words,
            project.bible,
            project.settings,
            project.model,
        )
        if project.owner is not None:
            copy = self.give(copy, project.owner)
        for row in self.db["plans"].rows_where("project_id = ?", [project.id], order_by="version"):
            del row["id"]
            self.db["plans"].insert({**row, "project_id": copy.id})
        for section in self.sections(project):
            version_id = self.start_section(
                copy, section.section_id, section.text, kind=section.kind
            )
            self.save_section(
                version_id, section.text, section.output_tokens, section.status == "done"
            )
        for recap in self.recaps(project).values():
            self.save_recap(copy, recap.chapter_id, recap.text, recap.edited)
        return self.update_project(copy, status=project.status, title=project.title or None)

    def delete_project(self, project: Project) -> None:
        """Remove the project with all its plans, section versions and runs."""
        with self.transaction():
            tables = ("sections", "section_versions", "plans", "runs", "chapter_recaps")
            reviews = ("review_findings", "review_passes", "review_snapshots")
            for table in (*tables, "start_overs", *reviews):
                self.db.execute(f"delete from {table} where project_id = ?", [project.id])
            self.db.execute("delete from projects where id = ?", [project.id])

    def give(self, project: Project, owner: str | None) -> Project:
        """The project now belongs to `owner` (None: to no one)."""
        with self.transaction():
            self.db.execute("update projects set owner = ? where id = ?", [owner, project.id])
        return self.project_by_id(project.id)

    def claim_unowned(self, owner: str) -> int:
        """Give every project that belongs to no one to `owner`; how many there were."""
        with self.transaction():
            cursor = self.db.execute("update projects set owner = ? where owner is null", [owner])
        return cursor.rowcount

    def unique_name(self, base: str) -> str:
        """base, or base (2), base (3)… whichever is free."""
        name = base = clean_name(base)
        n = 1
        while self._project_row(name):
            n += 1
            name = f"{base} ({n})"
        return name

    def list_projects(self, owner: str | None = None) -> list[ProjectSummary]:
        """Every project (with an `owner`, every one of theirs), last edited first, with the
        words of its current text."""
        summaries = []
        where, values = ("owner = ?", [owner]) if owner is not None else (None, None)
        for row in self.db["projects"].rows_where(where, values, order_by="updated_at desc"):
            project = self.project(row["name"])
            words = sum(count_words(s.text) for s in self.sections(project))
            summaries.append(
                ProjectSummary(
                    row["name"],
                    project.book_title,
                    words,
                    row["target_words"],
                    row["status"],
                    row["updated_at"],
                )
            )
        return summaries

    # plans
    def save_plan(self, project: Project, plan: Plan) -> int:
        """Save the plan as the project's next version (unchecked: the service's save_plan
        checks the version it was based on). The next number is taken under the write lock, so
        two connections saving at once get two versions."""
        text = clean_model(plan).model_dump_json()
        with self.transaction():
            version = self.db.execute(
                "select coalesce(max(version), 0) + 1 from plans where project_id = ?",
                [project.id],
            ).fetchone()[0]
            self.db.execute(
                "insert into plans (project_id, version, plan, created_at) values (?, ?, ?, ?)",
                [project.id, version, text, _now()],
            )
            self.touch_project(project)
        return version

    def plan(self, project: Project, version: int | None = None) -> Plan | None:
        where, params = "project_id = ?", [project.id]
        if version is not None:
            where, params = where + " and version = ?", [*params, version]
        row = next(
            self.db["plans"].rows_where(where, params, order_by="version desc", limit=1), None
        )
        return Plan.model_validate_json(row["plan"]) if row else None

    def plan_versions(self, project: Project) -> list[tuple[int, str]]:
        rows = self.db["plans"].rows_where("project_id = ?", [project.id], order_by="version")
        return [(row["version"], row["created_at"]) for row in rows]

    # sections
    def start_section(
        self,
        project: Project,
        section_id: str,
        text: str = "",
        make_current: bool = True,
        kind: str = "written",
        source_version_id: int | None = None,
    ) -> int:
        """Make a new version of the section (current from now on unless `make_current` is
        False: a proposed rewrite); returns its id. `kind` is one of VERSION_KINDS;
        `source_version_id` names the version a rewrite was made from or a restore copied."""
        if kind not in VERSION_KINDS:
            raise ValueError(f"unknown version kind {kind!r}")
        now = _now()
        with self.transaction():
            version_id = self.db.execute(
                "insert into section_versions (project_id, section_id, text, status, "
                "output_tokens, created_at, updated_at, kind, source_version_id) "
                "values (?, ?, ?, 'writing', 0, ?, ?, ?, ?)",
                [project.id, section_id, clean_text(text), now, now, kind, source_version_id],
            ).lastrowid
            if make_current:
                self._make_current(project, section_id, version_id)
        return version_id

    def _make_current(self, project: Project, section_id: str, version_id: int) -> None:
        with self.transaction():
            self.db.execute(
                "insert into sections (project_id, section_id, version_id) values (?, ?, ?) "
                "on conflict (project_id, section_id) "
                "do update set version_id = excluded.version_id",
                [project.id, section_id, version_id],
            )

    def save_section(self, version_id: int, text: str, output_tokens: int, done: bool) -> None:
        with self.transaction():
            self.db.execute(
                "update section_versions set text = ?, output_tokens = ?, status = ?, "
                "updated_at = ? where id = ?",
                [
                    clean_text(text),
                    output_tokens,
                    "done" if done else "writing",
                    _now(),
                    version_id,
                ],
            )

    def section_version(self, project: Project, version_id: int) -> Section | None:
        """One version by id (None when the project has no such version)."""
        row = next(
            self.db["section_versions"].rows_where(
                "project_id = ? and id = ?", [project.id, version_id]
            ),
            None,
        )
        if row is None:
            return None
        plan = self.plan(project)
        return _section(row, plan.position(row["section_id"]) if plan else None)

    def sections(self, project: Project, plan: Plan | None = None) -> list[Section]:
        """The current version of each row of the plan that has text, in plan order.

        Text whose row was deleted from the plan is left out (it comes back with a plan
        version that has the row)."""
        plan = plan if plan is not None else self.plan(project)
        if plan is None:
            return []
        rows = self.db.query(
            """
            select s.section_id, v.id, v.text, v.status, v.output_tokens, v.kind,
            v.created_at, v.source_version_id from sections s
            join section_versions v on v.id = s.version_id where s.project_id = ?
            """,
            [project.id],
        )
        current = {r["section_id"]: r for r in rows}
        return [
            _section(current[section_id], position)
            for position, section_id in enumerate(plan.ids)
            if section_id in current
        ]

    def section_history(self, project: Project, section_id: str) -> list[Section]:
        """Every version of the section, oldest first."""
        plan = self.plan(project)
        position = plan.position(section_id) if plan else None
        rows = self.db["section_versions"].rows_where(
            "project_id = ? and section_id = ?", [project.id, section_id], order_by="id"
        )
        return [_section(row, position) for row in rows]

    def version_counts(self, project: Project) -> dict[str, int]:
        """How many versions each section id has (deleted rows' sections included)."""
        rows = self.db.execute(
            "select section_id, count(*) from section_versions where project_id = ? "
            "group by section_id",
            [project.id],
        ).fetchall()
        return dict(rows)

    def restore_section(self, project: Project, section_id: str, version_id: int) -> None:
        self._make_current(project, section_id, version_id)

    def drop_sections_from(self, project: Project, idx: int) -> None:
        """Forget which versions are current from plan row idx on (their history stays)."""
        plan = self.plan(project)
        with self.transaction():
            for section_id in plan.ids[idx:] if plan else []:
                self.db.execute(
                    "delete from sections where project_id = ? and section_id = ?",
                    [project.id, section_id],
                )

    # start over, and its undo
    def save_start_over(self, project: Project, snapshot: dict) -> int:
        """Keep what a start over sets aside (current version ids and recaps, as JSON)."""
        with self.transaction():
            return self.db.execute(
                "insert into start_overs (project_id, snapshot, created_at) values (?, ?, ?)",
                [project.id, json.dumps(snapshot), _now()],
            ).lastrowid

    def last_start_over(self, project: Project) -> tuple[int, dict] | None:
        """The latest start over not yet undone: its id and snapshot."""
        row = self.db.execute(
            "select id, snapshot from start_overs where project_id = ? order by id desc limit 1",
            [project.id],
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def forget_start_over(self, start_over_id: int) -> None:
        with self.transaction():
            self.db.execute("delete from start_overs where id = ?", [start_over_id])

    # chapter recaps
    def recaps(self, project: Project) -> dict[str, Recap]:
        """The stored recaps by chapter id."""
        rows = self.db.execute(
            "select chapter_id, text, edited from chapter_recaps where project_id = ?",
            [project.id],
        ).fetchall()
        return {row[0]: Recap(row[0], row[1], bool(row[2])) for row in rows}

    def save_recap(self, project: Project, chapter_id: str, text: str, edited: bool) -> None:
        """Store a chapter's recap (replacing the one before); an empty text removes it, so the
        model writes a new one when the chapter is next finished."""
        with self.transaction():
            self.db.execute(
                "delete from chapter_recaps where project_id = ? and chapter_id = ?",
                [project.id, chapter_id],
            )
            if clean_text(text).strip():
                self.db.execute(
                    "insert into chapter_recaps values (?, ?, ?, ?, ?)",
                    [project.id, chapter_id, clean_text(text).strip(), int(edited), _now()],
                )
            self.db.execute("update projects set updated_at = ? where id = ?", [_now(), project.id])

    # preferences (the writer's, shared by every project)
    def preference(self, key: str) -> str:
        row = self.db.execute("select value from preferences where key = ?", [key]).fetchone()
        return row[0] if row else ""

    def set_preference(self, key: str, value: str) -> None:
        with self.db.conn:
            self.db.execute(
                "insert or replace into preferences values (?, ?)", [key, clean_text(value).strip()]
            )

    # runs
    def start_run(self, project: Project) -> int:
        self.update_project(project, status="writing")
        return (
            self.db["runs"]
            .insert({"project_id": project.id, "started_at": _now(), "status": "running"})
            .last_pk
        )

    def finish_run(self, project: Project, run_id: int, status: str, stats: dict | None) -> None:
        self.db["runs"].update(
            run_id, {"finished_at": _now(), "status": status, "stats": json.dumps(stats)}
        )
        self.update_project(project, status=status)

    def runs(self, project: Project) -> list[Run]:
        """The project's writing runs, oldest first."""
        rows = self.db["runs"].rows_where("project_id = ?", [project.id], order_by="id")
        return [
            Run(
                row["id"],
                row["started_at"],
                row["finished_at"],
                row["status"],
                json.loads(row["stats"]) if row["stats"] else None,
            )
            for row in rows
        ]

    def close(self) -> None:
        self.db.close()


def _section(row: dict, position: int | None) -> Section:
    return Section(
        row["section_id"],
        position,
        row["id"],
        row["text"],
        row["status"],
        row["output_tokens"],
        row.get("kind") or "written",
        row.get("created_at") or "",
        row.get("source_version_id"),
    )


class Autosave:
    """Saves a streaming section at most every `interval` seconds, and for sure at the end."""

    def __init__(self, store: Store, version_id: int, interval: float = AUTOSAVE_INTERVAL_S):
        self.store, self.version_id, self.interval = store, version_id, interval
        self.last_save = time.monotonic()

    def update(self, text: str, output_tokens: int) -> None:
        if time.monotonic() - self.last_save >= self.interval:
            self.store.save_section(self.version_id, text, output_tokens, done=False)
            self.last_save = time.monotonic()

    def finish(self, text: str, output_tokens: int) -> None:
        self.store.save_section(self.version_id, text, output_tokens, done=True)
