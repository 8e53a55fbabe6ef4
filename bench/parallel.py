"""Several writers on one served model: four sessions one at a time versus all at once.

A fake OpenAI-compatible server in llama.cpp's dialect (harness/fake_openai.py) holds every
request a fixed time, as a server batching its slots would, and counts the requests in flight.
Each session is a real project written through the engine (store, writer, OpenAI-compatible
backend, its own backend instance); sessions run on `at once` threads. Prints JSON: the total
time for all sessions, and the most requests the server saw at once, for 1 and for the number
of generation slots the engine chooses (the server's slots, or --parallel).

    python -m bench.parallel [--sessions 4] [--sections 3] [--hold-s 0.25] [--parallel N]
"""

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.models.backends import open_backend
from engine.models.parallel import generation_slots
from engine.models.settings import LoadSettings
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.writing.events import RunFinished
from harness.fake_openai import FakeOpenAI


def write_session(url: str, model: str, folder: Path, number: int, sections: int) -> int:
    """One writer's project, start to end, on its own backend and database; returns its words."""
    backend = open_backend(LoadSettings(base_url=url, model_name=model, n_ctx=4096))
    store = Store(folder / f"session-{number}.db")
    rows = [
        PlanSection(title=f"Part {i + 1}", main_point=f"Scene {i + 1} of a night ferry.", words=60)
        for i in range(sections)
    ]
    project = store.create_project(f"s{number}", "A story about a night ferry.", 60 * sections)
    store.save_plan(project, Plan(sections=rows))
    words = 0
    for event in run_project(store, project, backend):
        if isinstance(event, RunFinished):
            words = event.stats.words
    store.close()
    backend.close()
    return words


def timed_run(server: FakeOpenAI, at_once: int, sessions: int, sections: int) -> dict:
    server.max_in_flight = 0
    started_requests = len(server.requests)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=at_once) as pool:
            words = list(
                pool.map(
                    lambda n: write_session(server.url, server.model_id, Path(folder), n, sections),
                    range(sessions),
                )
            )
        total = time.perf_counter() - started
    return {
        "at_once": at_once,
        "total_s": round(total, 2),
        "max_in_flight": server.max_in_flight,
        "requests": len(server.requests) - started_requests,
        "words": sum(words),
    }


def run(sessions: int = 4, sections: int = 3, hold_s: float = 0.25, parallel: int | None = None):
    with FakeOpenAI("llamacpp", slots=4, hold_s=hold_s) as server:
        settings = LoadSettings(base_url=server.url, model_name=server.model_id, n_ctx=4096)
        probe = open_backend(settings)
        slots = generation_slots(probe, parallel)
        probe.close()
        one = timed_run(server, 1, sessions, sections)
        many = timed_run(server, slots, sessions, sections)
    return {
        "server": f"fake OpenAI-compatible, {server.slots} slots, each request held {hold_s} s",
        "sessions": sessions,
        "sections_per_session": sections,
        "runs": [one, many],
        "speedup": round(one["total_s"] / many["total_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--sections", type=int, default=3)
    parser.add_argument("--hold-s", type=float, default=0.25)
    parser.add_argument("--parallel", type=int, help="generations at once (default: the slots)")
    args = parser.parse_args()
    print(json.dumps(run(args.sessions, args.sections, args.hold_s, args.parallel), indent=2))


if __name__ == "__main__":
    main()
