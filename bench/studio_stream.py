"""Streaming cost of the studio: a 20,000-word piece streamed into Chromium at a fixed rate.

A replay backend (the test suite's fake backend over a stored text) streams a stored text, one
word per token, at a fixed rate through the real writer, store and studio; Chromium shows it.
Prints JSON with how far the page lags the engine (when each section's last word left the
engine vs when the page shows the finished section) and the studio process's CPU time per
streamed token at the start and at the end of the piece. The stored text is the prose of
Python's own reference topics (pydoc_data.topics, part of every CPython), so the benchmark
needs no download.

    python -m bench.studio_stream [--words 20000] [--sections 20] [--rate 200]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from engine.metrics import count_words
from engine.models.backends.base import ChatRequest
from engine.schema import Plan, PlanSection, WriteSettings
from harness.fake_backend import FakeBackend
from harness.studio import CHROMIUM, free_port, launch_chromium, wait_ready

REPO = Path(__file__).resolve().parents[1]
CPU_SAMPLE_EVERY = 100  # tokens


def stored_text(words: int) -> str:
    """About `words` words of English prose from Python's reference topics, in a fixed order."""
    from pydoc_data.topics import topics

    paragraphs, total = [], 0
    for key in sorted(topics):
        for paragraph in topics[key].split("\n\n"):
            flat = " ".join(paragraph.split())
            if paragraph.startswith(" ") or count_words(flat) < 20 or not flat.endswith("."):
                continue  # code samples and headings
            paragraphs.append(flat)
            total += count_words(flat)
            if total >= words * 1.3:  # room for sections cut at sentence ends
                return "\n\n".join(paragraphs)
    return "\n\n".join(paragraphs)


class ReplayBackend(FakeBackend):
    """The test suite's fake backend replaying a stored text: each request continues from where
    the last one stopped, `rate` words per second; the CPU time is logged every
    CPU_SAMPLE_EVERY tokens and at the end of each stream."""

    def __init__(self, text: str, rate: float, log_path: Path):
        self.words = FakeBackend._chunks(text)
        self.position = 0
        self.log = log_path.open("w")
        super().__init__(self._rest, context_length=10_000_000, rate=rate, name="replay")

    def _rest(self, _request: ChatRequest) -> str:
        return "".join(self.words[self.position :]).lstrip(" ")

    def on_token(self, _count: int) -> None:
        self.position += 1
        if self.position % CPU_SAMPLE_EVERY == 0:
            self._log("cpu", cpu=time.process_time())

    def stream(self, request: ChatRequest) -> Iterator[str]:
        try:
            yield from super().stream(request)
        finally:
            self._log("stream_end")

    def _log(self, kind: str, **fields) -> None:
        entry = {"kind": kind, "t": time.time(), "tokens": self.position, **fields}
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()

    def close(self) -> None:
        self.log.close()


def serve(args) -> None:
    """The studio process: the real studio with the replay backend as its model."""
    from app.studio.model_host import ModelHost
    from app.studio.state import Studio
    from app.studio.ui import CSS, build

    backend = ReplayBackend(stored_text(args.words), args.rate, Path(args.log))
    studio = Studio(Path(args.db), ModelHost.serving(backend))
    demo = build(studio)
    demo.queue(default_concurrency_limit=None)
    demo.launch(
        server_name="127.0.0.1",
        server_port=args.port,
        ssr_mode=False,
        quiet=True,
        css=CSS,
        footer_links=[],
    )


# Records, in the page, when each finished section appears and the active section's length.
OBSERVER = """
() => {
  window.__shown = [];
  const documentNode = document.querySelector('#document');
  const record = () => {
    const count = documentNode.querySelectorAll('.lw-section').length;
    const last = window.__shown[window.__shown.length - 1];
    if (!last || last.sections !== count) window.__shown.push({t: Date.now(), sections: count});
  };
  new MutationObserver(record).observe(documentNode, {childList: true, subtree: true});
}
"""


def measure(args) -> dict:
    from playwright.sync_api import sync_playwright

    from engine.store.database import Store

    folder = Path(tempfile.mkdtemp(prefix="longwrite-bench-"))
    db, log = folder / "bench.db", folder / "engine.jsonl"
    per_section = args.words // args.sections
    store = Store(db)
    settings = WriteSettings(fight_repetition=False)
    project = store.create_project("Replay", "Replay a stored text.", args.words, settings=settings)
    sections = [
        PlanSection(title=f"Part {i + 1}", main_point="Replay.", words=per_section)
        for i in range(args.sections)
    ]
    store.save_plan(project, Plan(sections=sections))
    store.close()

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.studio_stream",
        "--serve",
        "--db",
        str(db),
        "--log",
        str(log),
        "--port",
        str(port),
        "--rate",
        str(args.rate),
        "--words",
        str(args.words),
    ]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "server.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, server)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, args.chromium)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.locator("#project-list").get_by_text("Replay", exact=True).filter(
                visible=True
            ).click()
            page.wait_for_function(
                "document.querySelector('#project-title').innerText.includes('Replay')"
            )
            page.get_by_role("tab", name="Write").click()
            page.evaluate(OBSERVER)
            page.click("#write")
            page.wait_for_function(
                "/^Done/.test(document.querySelector('#progress').innerText)",
                timeout=int(args.words / args.rate * 1000 * 3 + 120_000),
            )
            shown = page.evaluate("window.__shown")
            document_words = count_words(page.locator("#document").inner_text())
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return _report(args, log, shown, document_words)


def _report(args, log: Path, shown: list[dict], document_words: int) -> dict:
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    ends = [e for e in entries if e["kind"] == "stream_end"]
    appeared = {}
    for sample in shown:  # first time the page showed k finished sections
        appeared.setdefault(sample["sections"], sample["t"] / 1000)
    lags = [round(appeared[k + 1] - end["t"], 3) for k, end in enumerate(ends) if k + 1 in appeared]
    cpu = [e for e in entries if e["kind"] == "cpu"]
    tenth = max(len(cpu) // 10, 2)

    def per_token(window: list[dict]) -> float:
        spent = window[-1]["cpu"] - window[0]["cpu"]
        return round(spent / (window[-1]["tokens"] - window[0]["tokens"]) * 1e6, 1)

    return {
        "words_target": args.words,
        "sections": args.sections,
        "rate_tokens_per_s": args.rate,
        "tokens_streamed": entries[-1]["tokens"] if entries else 0,
        "words_shown_in_page": document_words,
        "lag_end_s": lags[-1] if lags else None,
        "lag_first_sections_s": lags[:3],
        "lag_last_sections_s": lags[-3:],
        "lag_max_s": max(lags) if lags else None,
        "server_cpu_us_per_token_start": per_token(cpu[:tenth]),
        "server_cpu_us_per_token_end": per_token(cpu[-tenth:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--sections", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0, help="tokens (words) per second")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
    else:
        print(json.dumps(measure(args), indent=2))


if __name__ == "__main__":
    main()
