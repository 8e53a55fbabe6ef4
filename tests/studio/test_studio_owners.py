"""Which projects a handler may see, without a browser: the writer signed in to the request
(Gradio's request context, set here as Gradio sets it) sees and changes only their own."""

from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from gradio.context import LocalContext

from app.studio import service
from app.studio.model_host import ModelHost
from app.studio.panels import projects
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
from engine.store.database import Store
from harness.fake_backend import FakeBackend


@contextmanager
def signed_in(user: str):
    token = LocalContext.request.set(SimpleNamespace(username=user, headers={}, cookies={}))
    try:
        yield
    finally:
        LocalContext.request.reset(token)


@pytest.fixture
def made_before(db_path) -> int:
    """A project made before the studio had sign-in (it belongs to no one)."""
    store = Store(db_path)
    project_id = store.create_project("Old piece", "Write about fog.", 300).id
    store.close()
    return project_id


def test_the_first_writer_gets_the_projects_of_no_one(db_path, made_before):
    studio = Studio(db_path, ModelHost.serving(FakeBackend()), first_writer="ann")
    with signed_in("ann"):
        assert studio.project(made_before).owner == "ann"
        assert [p.name for p in studio.projects()] == ["Old piece"]
    with signed_in("bob"):
        assert studio.projects() == [] and studio.project_table()["data"] == []
        with pytest.raises(UserError) as refused:
            studio.project(made_before)
        assert refused.value.key == "error.project_deleted"
        with pytest.raises(UserError, match="No project named"):
            studio.project_named("Old piece")


def test_what_a_writer_makes_is_theirs_and_a_press_on_anothers_is_refused(db_path, made_before):
    studio = Studio(db_path, ModelHost.serving(FakeBackend()), first_writer="ann")
    ui = screen(studio)[1]
    view = ui.shared.view
    with signed_in("bob"):
        projects.create(studio, ui.projects, view, "Bob's piece")
        assert [(p.name, studio.project_named(p.name).owner) for p in studio.projects()] == [
            ("Bob's piece", "bob")
        ]
        reached = []
        step = service.queued(studio, lambda target: reached.append(target) or iter(()), None)
        with pytest.raises(UserError, match="deleted"):
            list(step(f'{{"project_id": {made_before}}}'))
        assert reached == []  # refused before the handler ran
        with pytest.raises(UserError, match="deleted"):
            projects.delete(studio, ui.projects, view, made_before)
    assert Store(db_path).project_by_id(made_before).name == "Old piece"


def test_without_sign_in_every_project_is_everyones(db_path, made_before):
    studio = Studio(db_path, ModelHost.serving(FakeBackend()))
    with signed_in("bob"):  # a name without sign-in (none is asked) changes nothing
        assert studio.writer() is None
        assert studio.project(made_before).owner is None
        assert [p.name for p in studio.projects()] == ["Old piece"]
