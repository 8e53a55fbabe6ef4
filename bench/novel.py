"""A 60,000-word novel from one instruction on the embedded model (8k context): a two-level
plan, scenes drafted chapter by chapter, recaps carried forward. Prints JSON: every scene
written, S_l of the whole and of each chapter, repeated 8-grams, prompt tokens evaluated against
the 1.3 × output bound, and the cost per output token in each tenth of the book's scenes.

    python -m bench.novel [--words 60000] [--ctx 8192] [--threads N] [--keep DB]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import THREADS_HELP
from engine.metrics import count_words, length_score, repeated_ngram_share
from engine.models.backends.llama_cpp import LlamaCppBackend, default_threads
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from engine.planning.book_plan import draft_book_plan
from engine.projects.run import project_document, run_project
from engine.schema import SamplingSettings, WriteSettings
from engine.store.database import Store
from engine.writing.events import RunFinished, SectionFinished, SectionStarted

INSTRUCTION = (
    "Write a {words}-word mystery novel about a lighthouse keeper on a northern island who "
    "starts receiving letters from a ship that sank fifty years ago."
)
BOUND = 1.3  # prompt tokens evaluated per output token, beyond the first-scene prompts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=60_000)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=default_threads(), help=THREADS_HELP)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", help="write the project database here instead of a temp file")
    args = parser.parse_args()
    backend = LlamaCppBackend(
        embedded_model_path(), LoadSettings(n_ctx=args.ctx, n_threads=args.threads)
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Store(args.keep or Path(folder) / "novel.db")
        print(json.dumps(write_novel(store, backend, args.words, args.seed), indent=1))


def write_novel(store: Store, backend, words: int, seed: int) -> dict:
    instruction = INSTRUCTION.format(words=f"{words:,}")
    started = time.perf_counter()
    plan = draft_book_plan(backend, instruction, words, seed=seed)
    chapters_usage = backend.last_usage
    settings = WriteSettings(sampling=SamplingSettings(seed=seed))
    project = store.create_project("novel", instruction, words, settings=settings)
    store.save_plan(project, plan)
    scene_seconds: dict[int, float] = {}
    scenes: dict[int, SectionFinished] = {}
    stats = None
    for event in run_project(store, project, backend, chapters_usage):
        if isinstance(event, SectionStarted):
            scene_started = time.perf_counter()
        elif isinstance(event, SectionFinished):
            scene_seconds[event.index] = time.perf_counter() - scene_started
            scenes[event.index] = event
        elif isinstance(event, RunFinished):
            stats = event.stats
    plan = store.plan(project)
    texts = {s.idx: s.text for s in store.sections(project) if s.status == "done"}
    chapter_scores = []
    for chapter in plan.chapters:
        rows = plan.scene_range(chapter.id)
        written = count_words("\n\n".join(texts.get(i, "") for i in rows))
        chapter_scores.append(round(length_score(plan.chapter_words(chapter), written), 1))
    firsts = {plan.scene_range(c.id).start for c in plan.chapters}
    per_scene = [scenes[i].stats for i in sorted(scenes)]
    output = sum(s.output_tokens for s in per_scene)
    evaluated = sum(s.prompt_tokens_evaluated for s in per_scene)
    first_prompts = sum(s.prompt_tokens_evaluated for s in per_scene if s.index in firsts)
    beyond_firsts = evaluated - first_prompts + stats.scene_plan_prompt_tokens_evaluated
    tenths = [
        per_scene[len(per_scene) * k // 10 : len(per_scene) * (k + 1) // 10] for k in range(10)
    ]
    tenths = [part for part in tenths if part]  # fewer than ten scenes: fewer parts
    body = project_document(store, project).body
    return {
        "target_words": words,
        "n_ctx": backend.info.context_length,
        "chapters": len(plan.chapters),
        "scenes_planned": len(plan.sections),
        "scenes_written": len(texts),
        "chapters_without_scenes": sum(1 for c in plan.chapters if not plan.scenes(c.id)),
        "recaps": len(store.recaps(project)),
        "words": count_words(body),
        "length_score": round(length_score(plan.total_words, count_words(body)), 1),
        "chapter_length_score_min": min(chapter_scores),
        "chapter_length_scores": chapter_scores,
        "repeated_8gram_share": round(repeated_ngram_share(body), 4),
        "context_trims": stats.context_trims,
        "scene_output_tokens": output,
        "scene_prompt_tokens_evaluated": evaluated,
        "first_scene_prompt_tokens_evaluated": first_prompts,
        "scene_plan_prompt_tokens_evaluated": stats.scene_plan_prompt_tokens_evaluated,
        "recap_prompt_tokens_evaluated": stats.recap_prompt_tokens_evaluated,
        "recap_output_tokens": stats.recap_output_tokens,
        "evaluated_beyond_first_scenes_per_output_token": round(beyond_firsts / output, 3),
        "within_bound": beyond_firsts <= BOUND * output,
        "seconds_per_output_token_by_tenth": [_cost(part, scene_seconds) for part in tenths],
        "tokens_evaluated_per_output_token_by_tenth": [_tokens(part) for part in tenths],
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _cost(scenes, seconds: dict[int, float]) -> float:
    return round(sum(seconds[s.index] for s in scenes) / sum(s.output_tokens for s in scenes), 4)


def _tokens(scenes) -> float:
    evaluated = sum(s.prompt_tokens_evaluated for s in scenes)
    return round(evaluated / sum(s.output_tokens for s in scenes), 3)


if __name__ == "__main__":
    main()
