"""LM Studio's and KoboldCpp's OpenAI-compatible servers through the existing --base-url
backend, and how many generations a backend may run at once; against small local fakes."""

import pytest

from engine.models.backends import open_backend
from engine.models.parallel import DEFAULT_SERVER_SLOTS, generation_slots
from engine.models.settings import LoadSettings
from engine.planning.plan import draft_plan
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.writing.events import RunFinished
from harness.fake_backend import FakeBackend
from harness.fake_openai import FakeOpenAI


def _write(backend, db_path, words: int, sections: int):
    """Write a piece of `words` words in `sections` rows; returns the run's stats."""
    store = Store(db_path)
    project = store.create_project("p", "A story about a night ferry.", words)
    rows = [
        PlanSection(
            title=f"Part {i}", main_point=f"The ferry reaches stop {i}.", words=words // sections
        )
        for i in range(sections)
    ]
    store.save_plan(project, Plan(sections=rows))
    events = list(run_project(store, project, backend))
    assert isinstance(events[-1], RunFinished)
    return events[-1].stats


def test_lm_studio_takes_the_plan_schema_as_json_schema(db_path):
    with FakeOpenAI("lmstudio") as server:
        settings = LoadSettings(base_url=server.url, model_name="smollm2-135m-instruct")
        backend = open_backend(settings)
        plan = draft_plan(backend, "A 1,200-word story about a night ferry.", 1200, seed=1)
        stats = _write(backend, db_path, 600, 2)
    shape = server.requests[0]["body"]["response_format"]
    assert shape["type"] == "json_schema" and shape["json_schema"]["schema"]["required"] == [
        "sections"
    ]
    assert plan.total_words == 1200 and len(plan.sections) >= 2
    assert stats.length_score >= 90


def test_lm_studio_refuses_json_object():
    """The dialect the backend must avoid: LM Studio answers json_object with HTTP 400."""
    import httpx

    with FakeOpenAI("lmstudio") as server:
        body = {
            "model": "smollm2-135m-instruct",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"},
        }
        answer = httpx.post(server.url + "/chat/completions", json=body)
    assert answer.status_code == 400


def test_koboldcpp_context_is_read_so_its_front_cut_never_happens(db_path):
    with FakeOpenAI("koboldcpp", context=2048) as server:
        backend = open_backend(LoadSettings(base_url=server.url, model_name="koboldcpp/SmolLM2"))
        assert backend.info.context_length == 2048  # from /api/v1/config/max_context_length
        stats = _write(backend, db_path, 3000, 6)
    assert stats.length_score >= 90 and stats.context_trims >= 1
    assert not any(r["cut"] for r in server.requests)


def test_generation_slots_follow_the_backend():
    with FakeOpenAI("llamacpp", slots=3) as llama_server:
        served = open_backend(LoadSettings(base_url=llama_server.url, model_name="m"))
        assert generation_slots(served) == 3  # /props total_slots
        assert generation_slots(served, requested=8) == 8
        assert served.info.context_length == 4096  # /props n_ctx
    with FakeOpenAI("lmstudio") as silent:
        quiet = open_backend(LoadSettings(base_url=silent.url, model_name="smollm2-135m-instruct"))
        assert generation_slots(quiet) == DEFAULT_SERVER_SLOTS
    assert generation_slots(FakeBackend(), requested=8) == 1  # a model in this process


@pytest.mark.slow
def test_the_embedded_model_runs_one_at_a_time(backend):
    assert generation_slots(backend) == 1
    assert generation_slots(backend, requested=4) == 1
