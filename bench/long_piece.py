"""A 20,000-word request on the embedded model with its 8k context: every section must be
present. Prints JSON with the context trims, length score and cost.

    python -m bench.long_piece [--words 20000] [--ctx 8192]
"""

import argparse
import json
import time

from bench.common import THREADS_HELP, write_once
from engine.models.backends.llama_cpp import LlamaCppBackend, default_threads
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from engine.schema import WriteSettings

INSTRUCTION = (
    "Write a {words}-word novella about a lighthouse keeper on a northern island who starts "
    "receiving letters from a ship that sank fifty years ago."
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=default_threads(), help=THREADS_HELP)
    args = parser.parse_args()
    backend = LlamaCppBackend(
        embedded_model_path(), LoadSettings(n_ctx=args.ctx, n_threads=args.threads)
    )
    started = time.perf_counter()
    stats, text, plan = write_once(
        backend, INSTRUCTION.format(words=f"{args.words:,}"), args.words, WriteSettings(), seed=3
    )
    empty = [s.index for s in stats.per_section if s.words == 0]
    print(
        json.dumps(
            {
                "target_words": args.words,
                "n_ctx": args.ctx,
                "sections_planned": len(plan.sections),
                "sections_written": len(stats.per_section),
                "empty_sections": empty,
                "words": stats.words,
                "length_score": round(stats.length_score, 1),
                "context_trims": stats.context_trims,
                "repeated_8gram_share": round(stats.repeated_8gram_share, 4),
                "output_tokens": stats.output_tokens,
                "prompt_tokens_sent": stats.prompt_tokens_sent,
                "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
                "wall_s": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
