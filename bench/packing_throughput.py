"""Training throughput, packed (best-fit, padding-free) versus padded batches, on a length mix
like LongWriter-6k plus general chat data, scaled down for a CPU.

At full scale: 90 % chat rows (log-normal lengths, median 600 tokens) and 10 % long-output rows
(log-normal, median 6,000 tokens, tail cut at 32,768). Every length is divided by --scale
(16 by default, so packs of 2,048 tokens). Both modes run forward + backward of the CPU
miniature's model (tiny random Llama over the SmolLM2 tokenizer) over the same rows through
TRL's packing and collator; tokens/s counts real (non-padding) tokens.

    python bench/packing_throughput.py [--rows 160] [--scale 16] [--batch-size 8]
"""

import argparse
import json
import random
import time

import torch
from datasets import Dataset
from trl.data_utils import pack_dataset
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from training.models import load_tokenizer, tiny_model

FULL_PACK = 32_768


def length_mix(rows: int, scale: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    lengths = []
    for _ in range(rows):
        if rng.random() < 0.10:
            full = min(FULL_PACK, rng.lognormvariate(mu=8.7, sigma=0.7))  # median ~6,000
        else:
            full = min(8_192, max(64, rng.lognormvariate(mu=6.4, sigma=0.8)))  # median ~600
        lengths.append(max(4, int(full / scale)))
    return lengths


def examples(lengths: list[int], vocab: int, seed: int) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for length in lengths:
        ids = torch.randint(10, vocab, (length,), generator=generator).tolist()
        out.append({"input_ids": ids, "labels": ids})
    return out


def timed(model, batches: list[dict]) -> float:
    started = time.perf_counter()
    for batch in batches:
        model(**batch).loss.backward()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=160)
    parser.add_argument("--scale", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8, help="rows per padded batch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tokenizer = load_tokenizer("embedded")
    model = tiny_model(tokenizer, hidden_size=64, layers=2, heads=4, seed=args.seed).train()
    pack_length = FULL_PACK // args.scale
    lengths = length_mix(args.rows, args.scale, args.seed)
    rows = examples(lengths, len(tokenizer), args.seed)
    real_tokens = sum(lengths)

    packs = pack_dataset(Dataset.from_list(rows), pack_length, "bfd")
    packed_collator = DataCollatorForLanguageModeling(tokenizer.pad_token_id, padding_free=True)
    packed = [packed_collator([pack]) for pack in packs]
    padded_collator = DataCollatorForLanguageModeling(tokenizer.pad_token_id)
    padded = [
        padded_collator(rows[i : i + args.batch_size]) for i in range(0, len(rows), args.batch_size)
    ]

    timed(model, packed[:1] + padded[:1])  # warm-up
    results = {}
    for name, batches in (("packed", packed), ("padded", padded)):
        seconds = timed(model, batches)
        computed = sum(batch["input_ids"].numel() for batch in batches)
        results[name] = {
            "batches": len(batches),
            "computed_tokens": computed,
            "padding_share": round(1 - real_tokens / computed, 3),
            "seconds": round(seconds, 2),
            "tokens_per_s": round(real_tokens / seconds, 1),
        }
    print(
        json.dumps(
            {
                "rows": args.rows,
                "real_tokens": real_tokens,
                "pack_length": pack_length,
                "longest_row": max(lengths),
                "threads": torch.get_num_threads(),
                **results,
                "packed_over_padded": round(
                    results["packed"]["tokens_per_s"] / results["padded"]["tokens_per_s"], 2
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
