"""The long-context check: llama.cpp must predict like the Hugging Face model far into the
context, where a wrong rope (frequency base, Llama 3.1 scaling, partial rotary) shows.

The probe text is repeated up to the checked length; next-token predictions are compared in
windows of consecutive positions ending at 4,096 tokens and then at every doubling up to that
length. Both sides compute only the window rows: transformers through `logits_to_keep`, llama.cpp
one token at a time after evaluating the text before the window.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserError
from training.gguf.check import (
    THRESHOLDS,
    CheckResult,
    decided_positions,
    mean_kl,
    probe_text,
)
from training.gguf.reference_run import float32_logits, placement

FIRST_WINDOW_END = 4096
WINDOW = 32
CPU_LENGTH = 8192  # the default checked length without a GPU: an 8B model at 32k is slow on CPU


@dataclass
class LongReference:
    """Token ids of the long probe, the checked positions and the HF model's logits there."""

    tokens: list[int]
    positions: list[int]
    logits: np.ndarray


def window_positions(length: int) -> list[int]:
    """Positions of the windows ending at 4,096, 8,192, … and at `length`."""
    if length <= FIRST_WINDOW_END:
        raise UserError(key="error.long_check_short", least=FIRST_WINDOW_END, length=length)
    ends, end = [], FIRST_WINDOW_END
    while end < length:
        ends.append(end)
        end *= 2
    ends.append(length)
    return [position for end in ends for position in range(end - WINDOW, end)]


def checked_length(model, requested: int | None) -> int:
    """The requested length, else the model's context (at most CPU_LENGTH without a GPU)."""
    context = int(model.config.max_position_embeddings)
    if requested:
        return min(requested, context)
    return context if placement().torch_device == "cuda" else min(context, CPU_LENGTH)


def long_reference(model, tokenizer, length: int) -> LongReference:
    """The HF model's float32 logits at the window positions of a `length`-token probe,
    computed on the GPU when there is one."""
    probe = tokenizer(probe_text(tokenizer)).input_ids
    tokens = (probe * (length // len(probe) + 1))[:length]
    positions = window_positions(length)
    logits = float32_logits(model, tokens, positions, placement().torch_device)
    return LongReference(tokens, positions, logits)


def check_long_gguf(path: Path, quant: str, ref: LongReference) -> CheckResult:
    """Compare llama.cpp's predictions at the reference's window positions (every layer on
    the GPU when llama.cpp's build can offload)."""
    import llama_cpp
    from llama_cpp import Llama

    try:
        llm = Llama(
            model_path=str(path),
            n_ctx=len(ref.tokens) + 16,
            n_batch=512,
            n_gpu_layers=placement().gpu_layers,
            n_threads=os.cpu_count(),
            verbose=False,
        )
    except (ValueError, RuntimeError) as error:
        raise UserError(key="error.exported_unloadable", quant=quant, problem=error) from None
    rows, done = [], 0
    try:
        for position in ref.positions:
            if position > done:
                llm.eval(ref.tokens[done:position])
            llm.eval(ref.tokens[position : position + 1])
            last = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
            rows.append(np.ctypeslib.as_array(last, shape=(llm.n_vocab(),)).copy())
            done = position + 1
    finally:
        llm.close()
    logits = np.array(rows, dtype=np.float32)
    agrees = logits.argmax(-1) == ref.logits.argmax(-1)
    decided = decided_positions(ref.logits)
    return CheckResult(
        quant=f"{quant} long",
        top1_agreement=float(np.mean(agrees)),
        decided_agreement=float(np.mean(agrees[decided] if decided.any() else agrees)),
        decided_positions=int(decided.sum()),
        mean_kl=mean_kl(ref.logits, logits),
        tokenizer_matches=True,
        threshold=THRESHOLDS[quant],
    )
