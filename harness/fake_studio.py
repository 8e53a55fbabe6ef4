"""The real studio served with the scripted fake model, for browser tests that need a slow,
deterministic model rather than a real one (queues, several tabs).

    python -m tests.studio.fake_studio --db projects.db --port 7861 --rate 40

Plan drafts get a three-row JSON plan at once; everything else gets plain prose streamed at
`--rate` words per second, so a write takes long enough for other tabs to queue behind it.
"""

import argparse
import itertools
import json
from collections.abc import Callable
from pathlib import Path

from app.studio.cli import allowed_hosts, launch_options
from app.studio.language import I18N
from app.studio.model_host import ModelHost
from app.studio.state import Studio
from app.studio.ui import CSS, build
from engine.models.backends.base import ChatRequest
from harness.fake_backend import FakeBackend, prose

PLAN_ROWS = [
    {"title": "Arrival", "main_point": "The boat comes in at dusk.", "words": 200},
    {"title": "Storm", "main_point": "The storm cuts the island off.", "words": 200},
    {"title": "Morning", "main_point": "The sea is flat again.", "words": 200},
]


def reply(seeds) -> Callable[[ChatRequest], str]:
    def answer(request) -> str:
        schema = request.json_schema or {}
        if "sections" in schema.get("properties", {}):
            return json.dumps({"sections": PLAN_ROWS})
        return prose(120, seed=next(seeds))

    return answer


class PacedBackend(FakeBackend):
    """Prose at a writer's pace; plans at once (the tests time the writes, not the drafts)."""

    def stream(self, request):
        rate, self.rate = self.rate, (None if request.json_schema else self.rate)
        try:
            yield from super().stream(request)
        finally:
            self.rate = rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=40.0)
    args = parser.parse_args()
    backend = PacedBackend(reply(itertools.count()), rate=args.rate)
    studio = Studio(Path(args.db), ModelHost.serving(backend))
    demo = build(studio)
    demo.queue(default_concurrency_limit=None)
    options = launch_options("127.0.0.1", args.port, None, allowed_hosts("127.0.0.1", ()))
    demo.launch(**options, css=CSS, i18n=I18N)


if __name__ == "__main__":
    main()
