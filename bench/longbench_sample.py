"""Length score and repetition of AgentWrite on the embedded model, over LongBench-Write prompts
whose required length is 500 to 3,000 words (English and Chinese), with and without the
repetition countermeasures. Prints JSON.

    python bench/longbench_sample.py [--per-language 5]
"""

import argparse
import json
import time
from pathlib import Path

from bench.common import THREADS_HELP, load_rows, spread_sample, write_once
from engine.models.backends.llama_cpp import LlamaCppBackend, default_threads
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from engine.prompts import language_of
from engine.schema import WriteSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-language", type=int, default=5)
    parser.add_argument("--languages", default="en,zh", help="comma-separated: en, zh")
    parser.add_argument("--skip", type=int, default=0, help="start after this many sample rows")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=default_threads(), help=THREADS_HELP)
    args = parser.parse_args()
    rows = [r for r in load_rows("longbench_write.jsonl") if 500 <= r["length"] <= 3000]
    sample = []
    for language in args.languages.split(","):
        same = [r for r in rows if language_of(r["prompt"]) == language]
        sample += spread_sample(same, args.per_language)
    backend = LlamaCppBackend(
        Path(args.model) if args.model else embedded_model_path(),
        LoadSettings(n_ctx=8192, n_threads=args.threads),
    )
    results = []
    for i, row in enumerate(sample):
        if i < args.skip:
            continue
        entry = {
            "prompt": row["prompt"][:80],
            "language": language_of(row["prompt"]),
            "required": row["length"],
        }
        plan = None
        for label, fight in (("with", True), ("without", False)):
            started = time.perf_counter()
            stats, _, plan = write_once(
                backend,
                row["prompt"],
                row["length"],
                WriteSettings(fight_repetition=fight),
                plan=plan,
                seed=i,
            )
            entry[label] = {
                "words": stats.words,
                "length_score": round(stats.length_score, 1),
                "repeated_8gram_share": round(stats.repeated_8gram_share, 4),
                "output_tokens": stats.output_tokens,
                "prompt_tokens_sent": stats.prompt_tokens_sent,
                "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
                "first_prompt_tokens": stats.first_prompt_tokens,
                "wall_s": round(time.perf_counter() - started, 1),
            }
        results.append(entry)
        print(json.dumps(entry, ensure_ascii=False), flush=True)

    def mean(label: str, key: str) -> float:
        return round(sum(r[label][key] for r in results) / len(results), 3)

    summary = {
        "prompts": len(results),
        "model": backend.info.name,
        "mean_length_score": {label: mean(label, "length_score") for label in ("with", "without")},
        "mean_repeated_8gram_share": {
            label: mean(label, "repeated_8gram_share") for label in ("with", "without")
        },
        "evaluated_over_output_minus_first": round(
            sum(
                r["with"]["prompt_tokens_evaluated"] - r["with"]["first_prompt_tokens"]
                for r in results
            )
            / sum(r["with"]["output_tokens"] for r in results),
            3,
        ),
    }
    print(json.dumps({"summary": summary}, ensure_ascii=False))


if __name__ == "__main__":
    main()
