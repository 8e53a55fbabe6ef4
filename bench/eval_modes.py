"""S_l by length bucket, AgentWrite versus single pass, on LongBench-Write prompts (both
languages) with the embedded model, through the `longwrite eval longbench` runner. Prints JSON.

The sample: per language, `--counts` prompts from the buckets 0–500, 500–2k, 2k–4k and 4k+
(default 5, 4, 2 and 2: 26 prompts in all), spread evenly over the required lengths, none longer
than `--max-words` (default 6,000), to keep the run within about an hour on two CPU cores.

    python -m bench.eval_modes [--counts 5,4,2,2] [--max-words 6000] [--threads 1]
        [--single-ctx N] [--modes single,agentwrite] [--out DIR] [--resume]

Single pass gets the model's whole context window unless `--single-ctx` bounds it (the
embedded model sometimes loops until the window is full, which costs minutes per row).
`--modes` runs one mode only, so two processes can share the work; a last call with
`--resume` (and both modes) then only prints the table.
"""

import argparse
import json
import os
from pathlib import Path

from bench.common import BENCHMARKS, spread_sample
from engine.models.settings import LoadSettings
from training.eval.benchmark import BUCKETS, bucket_of
from training.eval.runner import load_scores, run_benchmark


def sample_file(counts: list[int], max_words: int, out: Path) -> Path:
    """Write the chosen rows (with their original fields) to out/sample.jsonl."""
    from engine.prompts import language_of

    rows = [
        json.loads(line) for line in (BENCHMARKS / "longbench_write.jsonl").open(encoding="utf-8")
    ]
    chosen = []
    for language in ("en", "zh"):
        for (bucket, _), count in zip(BUCKETS, counts, strict=False):
            group = [
                r
                for r in rows
                if language_of(r["prompt"]) == language
                and bucket_of(r["length"]) == bucket
                and r["length"] <= max_words
            ]
            chosen += spread_sample(group, count)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sample.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen)
    if not path.is_file() or path.read_text("utf-8") != text:  # a second process reads it now
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, "utf-8")
        partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--counts",
        default="5,4,2,2",
        help="prompts per language from the buckets 0–500, 500–2k, 2k–4k, 4k+",
    )
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument(
        "--single-ctx", type=int, default=None, help="context window (so output cap) of single pass"
    )
    parser.add_argument("--max-words", type=int, default=6000)
    parser.add_argument(
        "--modes", default="single,agentwrite", help="modes to run, comma-separated"
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-runs/modes"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.counts.split(",")]
    sample = sample_file(counts, args.max_words, args.out)
    table: dict[str, dict] = {}
    for mode in args.modes.split(","):
        n_ctx = args.single_ctx if mode == "single" else None
        model = LoadSettings(model_path=args.model, n_ctx=n_ctx, n_threads=args.threads)
        run_dir = args.out / mode
        run_benchmark("longbench", str(sample), mode, model, run_dir, resume=args.resume)
        scores = load_scores(run_dir)
        table[mode] = {
            "rows": scores.overall.rows,
            "missing": scores.missing,
            "S_l": scores.overall.length_score,
            "by_bucket": {
                b: {"rows": s.rows, "S_l": s.length_score} for b, s in scores.by_bucket.items()
            },
            "by_language": {k: s.length_score for k, s in scores.by_language.items()},
        }
    print(
        json.dumps(
            {"sample": str(sample), "model": model.label, "modes": table}, ensure_ascii=False
        )
    )


if __name__ == "__main__":
    main()
