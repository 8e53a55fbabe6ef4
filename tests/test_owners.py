"""Projects that belong to writers: a store asked for one owner's projects sees only theirs, and
another writer's project reads as missing; without an owner everything is as before."""

import sqlite3

import pytest

from engine.errors import UserError
from engine.projects.importing import import_manuscript
from engine.projects.manuscript_format import Author, remember_author, saved_author, stored_author
from engine.store.database import Store
from harness.fake_backend import FakeBackend


def _two_writers(db_path):
    store = Store(db_path)
    ann = store.give(store.create_project("Ann's piece", "Write about rain.", 300), "ann")
    bob = store.give(store.create_project("Bob's piece", "Write about snow.", 300), "bob")
    return store, ann, bob


def test_each_owner_lists_and_opens_only_their_own(db_path):
    store, ann, bob = _two_writers(db_path)
    assert [p.name for p in store.list_projects("ann")] == ["Ann's piece"]
    assert [p.name for p in store.list_projects("bob")] == ["Bob's piece"]
    assert {p.name for p in store.list_projects()} == {"Ann's piece", "Bob's piece"}
    assert store.project_by_id(ann.id, "ann").owner == "ann"
    assert store.project("Bob's piece", "bob").id == bob.id


def test_another_writers_project_reads_as_missing(db_path):
    store, ann, _ = _two_writers(db_path)
    with pytest.raises(UserError) as by_id:
        store.project_by_id(ann.id, "bob")
    with pytest.raises(UserError) as missing:
        store.project_by_id(ann.id + 100, "bob")
    assert str(by_id.value) == str(missing.value)  # the same line: nothing tells them apart
    with pytest.raises(UserError, match="No project named"):
        store.project("Ann's piece", "bob")
    assert store.project_by_id(ann.id).name == "Ann's piece"  # no owner: everyone, as before


def test_a_copy_keeps_its_owner(db_path):
    store, ann, _ = _two_writers(db_path)
    copy = store.duplicate_project(ann, "Ann's copy")
    assert copy.owner == "ann"
    assert {p.name for p in store.list_projects("ann")} == {"Ann's piece", "Ann's copy"}


def test_projects_of_no_one_go_to_the_first_writer(db_path):
    store = Store(db_path)
    old = store.create_project("Made before sign-in", "Write about fog.", 300)
    assert old.owner is None and store.list_projects("ann") == []
    assert store.claim_unowned("ann") == 1
    assert store.claim_unowned("bob") == 0  # claimed once, by the first
    assert [p.name for p in store.list_projects("ann")] == ["Made before sign-in"]


def test_a_database_from_before_owners_gets_the_column(db_path):
    """A database made by the previous release (no owner column) opens with its projects
    unowned."""
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("alter table projects drop column owner")
    conn.execute("delete from _migrations where name = 'm008_owner'")
    conn.execute(
        "insert into projects (name, instruction, target_words, settings, model, status, "
        "created_at, updated_at) values ('Old', 'Write.', 100, '{}', '{}', 'new', '', '')"
    )
    conn.commit()
    conn.close()
    store = Store(db_path)
    assert store.project("Old").owner is None


def test_an_import_belongs_to_the_writer_who_imported_it(db_path, tmp_path):
    manuscript = tmp_path / "rain.md"
    manuscript.write_text("# Rain\n\nIt rained all day on the hill.\n", encoding="utf-8")
    store = Store(db_path)
    backend = FakeBackend(["A day of rain."])
    events = list(import_manuscript(store, manuscript, backend, owner="ann"))
    project = events[-1].project
    assert project.owner == "ann"
    assert [p.name for p in store.list_projects("ann")] == [project.name]
    assert store.list_projects("bob") == []


def test_each_writer_keeps_their_own_author_for_manuscripts(db_path):
    store, ann, bob = _two_writers(db_path)
    remember_author(store, "Ann Lee", "1 Hill Road", "ann")
    assert stored_author(store, "bob") == ("", "")
    assert stored_author(store) == ("", "")  # the studio without sign-in, and the CLI's own
    assert saved_author(store, owner="ann") == Author("Ann Lee", "1 Hill Road")
    with pytest.raises(UserError, match="--author"):
        saved_author(store, owner="bob")
