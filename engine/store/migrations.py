"""The database's schema as ordered migrations: small functions applied once each, in the
order they are defined, inside the caller's transaction (a migration must not commit).

A new table or column is a new `@migration` function at the end of this file; never edit one
that has shipped.
"""

import json
from collections.abc import Callable

import sqlite_utils

from engine.schema import new_section_id

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    """Register a migration; they run once each, in the order they are defined."""
    MIGRATIONS.append((function.__name__, function))
    return function


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db["projects"].create(
        {
            "id": int,
            "name": str,
            "instruction": str,
            "bible": str,
            "target_words": int,
            "settings": str,
            "model": str,
            "status": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"name", "instruction"},
    )
    db["projects"].create_index(["name"], unique=True)
    db["plans"].create(
        {"id": int, "project_id": int, "version": int, "plan": str, "created_at": str},
        pk="id",
        foreign_keys=[("project_id", "projects", "id")],
    )
    db["plans"].create_index(["project_id", "version"], unique=True)
    db["section_versions"].create(
        {
            "id": int,
            "project_id": int,
            "idx": int,
            "text": str,
            "status": str,
            "output_tokens": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("project_id", "projects", "id")],
    )
    db["section_versions"].create_index(["project_id", "idx"])
    db["sections"].create(
        {"project_id": int, "idx": int, "version_id": int},
        pk=("project_id", "idx"),
        foreign_keys=[("project_id", "projects", "id"), ("version_id", "section_versions", "id")],
    )
    db["runs"].create(
        {
            "id": int,
            "project_id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "stats": str,
        },
        pk="id",
        foreign_keys=[("project_id", "projects", "id")],
    )


@migration
def m002_section_ids(db: sqlite_utils.Database) -> None:
    """Key written text by the plan row's stable id instead of its position.

    Each project's positions get one id each; every plan version gets those ids by position
    (text was stored by position until now, so position i of any version is section i), and
    every section version and current-version pointer is re-keyed by them. Raw SQL only: the
    migration runs inside the caller's transaction and must not commit.
    """
    db.execute("alter table section_versions add column section_id text")
    db.execute(
        "create table sections_by_id (project_id integer references projects(id), "
        "section_id text, version_id integer references section_versions(id), "
        "primary key (project_id, section_id))"
    )
    for (project_id,) in db.execute("select id from projects").fetchall():
        plans = db.execute(
            "select id, plan from plans where project_id = ?", [project_id]
        ).fetchall()
        rows = db.execute(
            "select coalesce(max(idx) + 1, 0) from section_versions where project_id = ?",
            [project_id],
        ).fetchone()[0]
        longest = max([len(json.loads(plan)["sections"]) for _, plan in plans] + [rows])
        ids = [new_section_id() for _ in range(longest)]
        for plan_id, plan in plans:
            data = json.loads(plan)
            for position, section in enumerate(data["sections"]):
                section["id"] = ids[position]
            db.execute("update plans set plan = ? where id = ?", [json.dumps(data), plan_id])
        for position, section_id in enumerate(ids):
            db.execute(
                "update section_versions set section_id = ? where project_id = ? and idx = ?",
                [section_id, project_id, position],
            )
            db.execute(
                "insert into sections_by_id select project_id, ?, version_id from sections "
                "where project_id = ? and idx = ?",
                [section_id, project_id, position],
            )
    db.execute("drop table sections")
    db.execute("alter table sections_by_id rename to sections")
    db.execute("create index idx_section_versions_section on section_versions (section_id)")


@migration
def m003_chapter_recaps(db: sqlite_utils.Database) -> None:
    """A recap per written chapter of a two-level plan: the model's, or the writer's edit."""
    db.execute(
        "create table chapter_recaps (project_id integer references projects(id), "
        "chapter_id text, text text not null, edited integer not null default 0, "
        "updated_at text, primary key (project_id, chapter_id))"
    )


@migration
def m004_versions(db: sqlite_utils.Database) -> None:
    """What a write is checked against, and what each section version is.

    `projects.brief_version` counts the writes to a project's brief (name, instruction, bible,
    target, settings), so a write based on an older brief can be refused. `section_versions.kind`
    says how a version was made (written, rewrite, edit, restore, imported; versions from
    before this migration read as written) and `source_version_id` which version a rewrite was
    made from or a restore copied. `start_overs` keeps the current versions and recaps that a
    start over set aside, so one call brings them back.
    """
    db.execute("alter table projects add column brief_version integer not null default 0")
    db.execute("alter table section_versions add column kind text not null default 'written'")
    db.execute("alter table section_versions add column source_version_id integer")
    db.execute(
        "create table start_overs (id integer primary key, "
        "project_id integer references projects(id), snapshot text not null, created_at text)"
    )


@migration
def m005_clean_names(db: sqlite_utils.Database) -> None:
    """Names stored before clean_name dropped bidirectional controls and capped the length get
    the same treatment (a right-to-left override reversed a name on screen); a cleaned name
    that another project has already gets " (2)", " (3)"…."""
    from engine.text_hygiene import clean_name

    rows = db.execute("select id, name from projects order by id").fetchall()
    taken = {name for _, name in rows}
    for project_id, name in rows:
        cleaned = clean_name(name) or "untitled"
        if cleaned == name:
            continue
        taken.discard(name)
        candidate, n = cleaned, 1
        while candidate in taken:
            n += 1
            candidate = f"{cleaned} ({n})"
        taken.add(candidate)
        db.execute("update projects set name = ? where id = ?", [candidate, project_id])


@migration
def m006_review(db: sqlite_utils.Database) -> None:
    """The read-through: its findings with their state (open or dismissed), which version of
    each section a check last read (so a re-run reads only what changed), and the bible and
    recaps as that review saw them (so "check later chapters" knows what changed since)."""
    db.execute(
        "create table review_findings (id integer primary key, "
        "project_id integer references projects(id), section_id text not null, "
        "source text not null, kind text not null, severity text not null, "
        "quote text not null, suggestion text not null, key text not null, "
        "state text not null default 'open', created_at text)"
    )
    db.execute("create index idx_review_findings_project on review_findings (project_id)")
    db.execute(
        "create table review_passes (project_id integer references projects(id), "
        "section_id text, source text, version_id integer, context text, "
        "primary key (project_id, section_id, source))"
    )
    db.execute(
        "create table review_snapshots (project_id integer references projects(id), "
        "kind text, key text, text text, primary key (project_id, kind, key))"
    )


@migration
def m007_title_and_preferences(db: sqlite_utils.Database) -> None:
    """A book title apart from the project's name (NULL: the name, as before), and the
    writer's preferences kept once for every project (author name and contact)."""
    db.execute("alter table projects add column title text")
    db.execute("create table preferences (key text primary key, value text not null)")


@migration
def m008_owner(db: sqlite_utils.Database) -> None:
    """Who a project belongs to on a studio with several writers (NULL: no one yet; a studio
    started with sign-in gives such projects to its first writer)."""
    db.execute("alter table projects add column owner text")
