"""Wall time of an AgentWrite writing run (from a drafted plan) against one plain
llama-cpp-python call that generates the same number of tokens with the same model, side by
side. The plan's drafting time is reported apart (in the studio it happens before the writer
edits the plan). Prints JSON.

    python -m bench.agentwrite_vs_plain [--words 1500]

The plain call bans end-of-generation tokens so it produces exactly as many tokens as the
AgentWrite run did; it is the cheapest possible way to make that much text. CPU seconds are
reported beside wall seconds: on a shared machine the wall ratio moves with other people's load,
the CPU ratio (with --threads 1) hardly does.
"""

import argparse
import json
import time

import numpy as np
from llama_cpp import Llama, LogitsProcessorList

from bench.common import THREADS_HELP, write_once
from engine.models.backends.llama_cpp import LlamaCppBackend, default_threads
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings
from engine.planning.plan import draft_plan
from engine.schema import WriteSettings

INSTRUCTION = "Write a {words}-word story about a cartographer who maps a city that keeps moving."


def plain_call(llm: Llama, prompt: list[int], end_ids: list[int], tokens: int) -> None:
    """One completion of exactly `tokens` tokens."""

    def no_end(_input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        logits[end_ids] = -np.inf
        return logits

    llm.reset()
    out = llm.create_completion(
        prompt,
        max_tokens=tokens,
        temperature=0.7,
        seed=0,
        logits_processor=LogitsProcessorList([no_end]),
    )
    assert out["usage"]["completion_tokens"] == tokens, out["usage"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=default_threads(), help=THREADS_HELP)
    args = parser.parse_args()
    path = embedded_model_path()
    instruction = INSTRUCTION.format(words=args.words)
    backend = LlamaCppBackend(path, LoadSettings(n_ctx=8192, n_threads=args.threads))
    prompt = backend.tokens([{"role": "user", "content": instruction}])
    end_ids = [backend.llm.token_eos(), *backend.llm.tokenize(b"<|im_end|>", False, True)]
    with Clock() as planning:
        plan = draft_plan(backend, instruction, args.words, seed=1)
    plan_tokens = backend.last_usage.output_tokens
    with Clock() as run:
        stats, _, _ = write_once(backend, instruction, args.words, WriteSettings(), plan, seed=1)
    backend.close()

    llm = Llama(str(path), n_ctx=8192, n_batch=512, n_threads=args.threads, verbose=False)
    with Clock() as plain:
        plain_call(llm, prompt, end_ids, stats.output_tokens)
    llm.close()
    result = {
        "model": path.name,
        "target_words": args.words,
        "threads": args.threads,
        "words": stats.words,
        "length_score": round(stats.length_score, 1),
        "sections": stats.sections,
        "output_tokens": stats.output_tokens,
        "prompt_tokens_sent": stats.prompt_tokens_sent,
        "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
        "plan_tokens": plan_tokens,
        "plan_wall_s": round(planning.wall, 1),
        "run_wall_s": round(run.wall, 1),
        "plain_call_wall_s": round(plain.wall, 1),
        "run_cpu_s": round(run.cpu, 1),
        "plain_call_cpu_s": round(plain.cpu, 1),
        "ratio": round(run.wall / plain.wall, 3),
        "cpu_ratio": round(run.cpu / plain.cpu, 3),
        "ratio_with_plan": round((planning.wall + run.wall) / plain.wall, 3),
        "goal": "ratio <= 1.2",
    }
    print(json.dumps(result))


class Clock:
    """Wall and CPU seconds spent inside a with-block."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


if __name__ == "__main__":
    main()
