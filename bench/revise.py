"""Rewrite with an instruction on the embedded model: how soon the first token streams, and how
well "cut to N words" holds its length. Prints JSON.

    python -m bench.revise [--sections 12] [--tries 10] [--threads N]

1. A piece of `--sections` short sections is written; then section 10 is rewritten twice: right
   after the run (llama.cpp still holds the piece's prompt, so only the section's own text and
   the instruction are new) and after the cache was emptied. Each reports the seconds from the
   call to the first streamed token and the prompt tokens evaluated of those sent; the ratio of
   the two times is what prefix reuse saves (both in one run, so the shared machine's load
   cancels out).
2. `--tries` rewrites "cut to N words" of sections of about 160 words, N from 60 to 120; each
   try's words, deviation from N, and the share that ends within 10 % of N.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import THREADS_HELP
from engine.metrics import count_words
from engine.models.backends.llama_cpp import LlamaCppBackend
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from engine.projects.revise import RevisionReady, rewrite_section
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Project, Store
from engine.writing.events import SectionFinished, SectionProgress

INSTRUCTION = "Write a story in {count} short parts about a night ferry crossing a stormy strait."
POINTS = [
    "Ida boards the last ferry with a sealed parcel.",
    "The captain warns the passengers about the storm.",
    "Lights fail and the engines stop in the fog.",
    "A stranger asks Ida what the parcel holds.",
    "The crew restarts the engines by hand.",
    "Ida finds the stranger reading the ferry's logbook.",
    "A wave floods the lower deck.",
    "The captain asks Ida for help at the wheel.",
    "The lighthouse of the far shore appears.",
    "The ferry lands and Ida delivers the parcel.",
    "The stranger is gone, his coat left behind.",
    "Ida reads the note in the coat's pocket.",
]


def written_project(store: Store, backend, count: int, words: int, name: str) -> Project:
    plan = Plan(
        sections=[
            PlanSection(title=f"Part {i + 1}", main_point=POINTS[i % len(POINTS)], words=words)
            for i in range(count)
        ]
    )
    settings = WriteSettings(sampling=SamplingSettings(seed=11))
    project = store.create_project(
        name, INSTRUCTION.format(count=count), plan.total_words, settings=settings
    )
    store.save_plan(project, plan)
    list(run_project(store, project, backend))
    return store.project(name)


def timed_rewrite(store: Store, project: Project, backend, index: int, instruction: str) -> dict:
    section_id = store.plan(project).ids[index]
    started = time.perf_counter()
    first_token, stats, after = None, None, ""
    for event in rewrite_section(store, project, backend, section_id, instruction):
        if isinstance(event, SectionProgress) and first_token is None and event.text:
            first_token = time.perf_counter() - started
        elif isinstance(event, SectionFinished):
            stats = event.stats
        elif isinstance(event, RevisionReady):
            after = event.after
    return {
        "first_token_s": round(first_token or 0.0, 3),
        "prompt_tokens_sent": stats.prompt_tokens_sent,
        "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
        "words": count_words(after),
    }


def first_token_figures(store: Store, backend, sections: int) -> dict:
    project = written_project(store, backend, sections, 60, "ferry")
    warm = timed_rewrite(store, project, backend, 9, "make it darker")
    backend.llm.reset()  # forget the cached prompt: the cold case
    cold = timed_rewrite(store, project, backend, 9, "make it darker")
    return {
        "section": 10,
        "sections": sections,
        "warm": warm,
        "cold": cold,
        "warm_over_cold_time": round(warm["first_token_s"] / max(cold["first_token_s"], 1e-6), 3),
    }


def cut_figures(store: Store, backend, tries: int) -> dict:
    project = written_project(store, backend, tries, 160, "cuts")
    rows = []
    for i in range(tries):
        target = 60 + round(60 * i / max(tries - 1, 1))
        result = timed_rewrite(store, project, backend, i, f"cut to {target} words")
        source = count_words(store.sections(project)[i].text)
        deviation = (result["words"] - target) / target
        rows.append(
            {
                "source_words": source,
                "target": target,
                "words": result["words"],
                "deviation": round(deviation, 3),
            }
        )
    within = sum(abs(r["deviation"]) <= 0.10 for r in rows)
    return {
        "tries": rows,
        "within_10_percent": f"{within}/{len(rows)}",
        "mean_abs_deviation": round(sum(abs(r["deviation"]) for r in rows) / len(rows), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", type=int, default=12)
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--threads", type=int, help=THREADS_HELP)
    args = parser.parse_args()
    backend = LlamaCppBackend(
        embedded_model_path(), LoadSettings(n_ctx=8192, n_threads=args.threads)
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        result = {
            "first_token": first_token_figures(store, backend, args.sections),
            "cut_to_n_words": cut_figures(store, backend, args.tries),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
