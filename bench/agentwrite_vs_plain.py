"""Wall time of a whole AgentWrite run (plan included) against one plain llama-cpp-python call
that generates the same number of tokens with the same model, side by side. Prints JSON.

    python -m bench.agentwrite_vs_plain [--words 1500]

The plain call bans end-of-generation tokens so it produces exactly as many tokens as the
AgentWrite run did; it is the cheapest possible way to make that much text.
"""

import argparse
import json
import os
import time

import numpy as np
from llama_cpp import Llama, LogitsProcessorList

from bench.common import THREADS_HELP, write_once
from engine.backends.llama_cpp import LlamaCppBackend
from engine.models import embedded_model_path
from engine.schema import WriteSettings

INSTRUCTION = "Write a {words}-word story about a cartographer who maps a city that keeps moving."


def plain_call(llm: Llama, prompt: list[int], end_ids: list[int], tokens: int) -> float:
    """Seconds for one completion of exactly `tokens` tokens."""

    def no_end(input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        logits[end_ids] = -np.inf
        return logits

    llm.reset()
    started = time.perf_counter()
    out = llm.create_completion(
        prompt,
        max_tokens=tokens,
        temperature=0.7,
        seed=0,
        logits_processor=LogitsProcessorList([no_end]),
    )
    elapsed = time.perf_counter() - started
    assert out["usage"]["completion_tokens"] == tokens, out["usage"]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help=THREADS_HELP)
    args = parser.parse_args()
    path = embedded_model_path()
    instruction = INSTRUCTION.format(words=args.words)
    backend = LlamaCppBackend(path, n_ctx=8192, n_threads=args.threads)
    prompt = backend.tokens([{"role": "user", "content": instruction}])
    end_ids = [backend.llm.token_eos(), *backend.llm.tokenize(b"<|im_end|>", False, True)]
    started = time.perf_counter()
    stats, _, _ = write_once(backend, instruction, args.words, WriteSettings(), seed=1)
    agentwrite_s = time.perf_counter() - started
    backend.close()

    llm = Llama(str(path), n_ctx=8192, n_batch=512, n_threads=args.threads, verbose=False)
    plain_s = plain_call(llm, prompt, end_ids, stats.output_tokens)
    llm.close()
    print(
        json.dumps(
            {
                "model": path.name,
                "target_words": args.words,
                "threads": args.threads,
                "words": stats.words,
                "length_score": round(stats.length_score, 1),
                "output_tokens": stats.output_tokens,
                "prompt_tokens_sent": stats.prompt_tokens_sent,
                "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
                "agentwrite_wall_s": round(agentwrite_s, 1),
                "plain_call_wall_s": round(plain_s, 1),
                "ratio": round(agentwrite_s / plain_s, 3),
                "goal": "ratio <= 1.2",
            }
        )
    )


if __name__ == "__main__":
    main()
