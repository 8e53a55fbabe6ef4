"""The OpenAI-compatible backend against a real llama.cpp server serving the embedded model."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from engine.backends import open_backend
from engine.plan import draft_plan
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.session import RunFinished, run_project
from engine.store import Store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(model_path):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--verbose",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):  # up to a minute for the model to load
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("the llama.cpp server exited while starting")
                time.sleep(0.5)
        else:
            pytest.fail("the llama.cpp server did not start within a minute")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_unknown_model_name_is_a_user_error(server_url):
    from engine.errors import UserError

    with pytest.raises(UserError, match="smollm2"):
        open_backend(base_url=server_url, model_name="no-such-model")


def test_plan_and_write_through_the_server(server_url, db_path):
    backend = open_backend(base_url=server_url, model_name="smollm2", n_ctx=4096)
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
