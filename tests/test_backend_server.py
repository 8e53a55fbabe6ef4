"""The OpenAI-compatible backend against a real llama.cpp server serving the embedded model."""

import pytest

from engine.models.backends import open_backend
from engine.models.settings import LoadSettings
from engine.planning.plan import draft_plan
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Store
from engine.writing.events import RunFinished
from tests.conftest import llama_server


@pytest.fixture(scope="module")
def server_url(model_path):
    with llama_server(model_path, "smollm2") as url:
        yield url


def test_unknown_model_name_is_a_user_error(server_url):
    from engine.errors import UserError

    with pytest.raises(UserError, match="smollm2"):
        open_backend(LoadSettings(base_url=server_url, model_name="no-such-model"))


def test_plan_and_write_through_the_server(server_url, db_path):
    backend = open_backend(LoadSettings(base_url=server_url, model_name="smollm2", n_ctx=4096))
    drafted = draft_plan(backend, "A 600-word story about a night train.", 600, seed=2)
    assert drafted.total_words == 600
    store = Store(db_path)
    plan = Plan(
        sections=[
            PlanSection(
                title="Boarding", main_point="A girl boards the night train alone.", words=90
            ),
            PlanSection(title="Arrival", main_point="At dawn the train reaches the sea.", words=90),
        ]
    )
    settings = WriteSettings(sampling=SamplingSettings(seed=3))
    project = store.create_project("train", "A story about a night train.", 180, settings=settings)
    store.save_plan(project, plan)
    events = list(run_project(store, project, backend))
    assert isinstance(events[-1], RunFinished)
    stats = events[-1].stats
    assert stats.sections == 2 and stats.words >= 120 and stats.output_tokens > 0
    assert all(s.status == "done" and s.text.strip() for s in store.sections(project))
