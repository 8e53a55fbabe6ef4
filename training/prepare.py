"""Data preparation for SFT: validate, mix long-output with general data, tokenize with the
model's own chat template, label only assistant tokens (their end-of-turn EOS included), split
or drop rows longer than the pack length, and report the length distribution.

The result is a `datasets` folder with "input_ids" and "labels" (-100 where no loss is taken),
which TRL's SFTTrainer packs without tokenizing again.
"""

import json
import math
import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import UserError
from engine.metrics import count_words
from training.records import Conversation

IGNORE = -100
Overlong = Literal["split", "drop"]


@dataclass
class TokenizedRow:
    input_ids: list[int]
    labels: list[int]


def mix(
    long_rows: list[Conversation],
    general_rows: list[Conversation],
    long_share: float,
    seed: int = 0,
) -> list[Conversation]:
    """Long-output rows plus enough general rows that long ones make up `long_share` of the mix
    (as near as the general rows available allow), shuffled."""
    if not 0 < long_share <= 1:
        raise UserError(key="error.long_share")
    rng = random.Random(seed)
    wanted = round(len(long_rows) * (1 - long_share) / long_share)
    general = rng.sample(general_rows, min(wanted, len(general_rows)))
    rows = long_rows + general
    rng.shuffle(rows)
    return rows


def assistant_spans(tokenizer, conversation: Conversation) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of each assistant reply, each ending
    just after the token that ends the turn: the EOS where the template writes one after a
    reply; else the role tag that opens the next turn (GLM-4 writes no EOS: a reply ends where
    `<|user|>` begins, and the exported GGUF stops on it). After the last reply that tag is
    appended, so the model learns to close its final turn too."""
    messages = [m.model_dump() for m in conversation.messages]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    eos = tokenizer.eos_token
    spans, closing = [], None
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(
            messages[:i], tokenize=False, add_generation_prompt=True
        )
        through = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not text.startswith(before) or not text.startswith(through):
            raise UserError(key="error.template_not_append")
        end = through.rfind(eos, len(before)) if eos else -1
        if end >= 0:
            spans.append((len(before), end + len(eos)))
            continue
        closing = closing or next_turn_tag(tokenizer, messages[: i + 1], through)
        if not text.startswith(closing, len(through)):
            if len(text) != len(through):  # something else follows the reply
                raise UserError(key="error.template_eos", eos=eos)
            text += closing
        spans.append((len(before), len(through) + len(closing)))
    return text, spans


def next_turn_tag(tokenizer, messages: list[dict], through: str) -> str:
    """The special token the template writes right after a reply when the user speaks next
    (GLM-4's `<|user|>`), or a UserError when there is none to end the turn with."""
    probe = tokenizer.apply_chat_template(
        [*messages, {"role": "user", "content": "x"}], tokenize=False
    )
    ids = tokenizer(probe[len(through) :], add_special_tokens=False).input_ids
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    if not probe.startswith(through) or not ids or ids[0] not in special:
        raise UserError(key="error.template_eos", eos=tokenizer.eos_token)
    return tokenizer.decode(ids[:1])


def tokenize(tokenizer, conversation: Conversation) -> TokenizedRow:
    """Token ids of the templated conversation; labels copy the ids inside assistant spans."""
    text, spans = assistant_spans(tokenizer, conversation)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    labels = []
    for token, (start, end) in zip(ids, encoded["offset_mapping"], strict=True):
        inside = any(a <= start and end <= b for a, b in spans) and end > start
        labels.append(token if inside else IGNORE)
    return TokenizedRow(ids, labels)


def fit_length(row: TokenizedRow, max_length: int, overlong: Overlong) -> list[TokenizedRow]:
    """The row itself when it fits; else consecutive pieces of at most max_length tokens that
    still hold target tokens ("split"), or nothing ("drop")."""
    if len(row.input_ids) <= max_length:
        return [row]
    if overlong == "drop":
        return []
    pieces = []
    for start in range(0, len(row.input_ids), max_length):
        piece = TokenizedRow(
            row.input_ids[start : start + max_length], row.labels[start : start + max_length]
        )
        if any(label != IGNORE for label in piece.labels):
            pieces.append(piece)
    return pieces


# the tokenizer the worker processes use, set before they are forked
_WORKER_TOKENIZER = None


def _tokenize_in_worker(conversation: Conversation) -> TokenizedRow:
    return tokenize(_WORKER_TOKENIZER, conversation)


def tokenize_all(tokenizer, conversations: list[Conversation], workers: int = 1):
    """Every conversation tokenized and labelled, in order, over `workers` processes (the
    chat template is rendered in Python once per assistant turn: on ~186k conversations one
    process takes hours)."""
    global _WORKER_TOKENIZER
    if workers <= 1 or len(conversations) < 4 * workers:
        return [tokenize(tokenizer, conversation) for conversation in conversations]
    _WORKER_TOKENIZER = tokenizer  # forked workers inherit it; nothing is pickled per row
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            chunk = max(1, min(256, len(conversations) // (workers * 8)))
            return list(pool.map(_tokenize_in_worker, conversations, chunksize=chunk))
    finally:
        _WORKER_TOKENIZER = None


@dataclass
class PreparedReport:
    rows: int
    conversations: int
    long_rows: int
    split_rows: int
    dropped_rows: int
    tokens: int
    target_tokens: int
    longest: int
    eval_rows: int = 0
    eval_conversations: int = 0

    def summary(self) -> str:
        held_out = (
            f" {self.eval_rows:,} eval rows from {self.eval_conversations:,} held-out "
            "conversations."
            if self.eval_conversations
            else ""
        )
        return (
            f"{self.rows:,} rows from {self.conversations:,} conversations "
            f"({self.long_rows:,} long-output), {self.tokens:,} tokens of which "
            f"{self.target_tokens:,} are targets; {self.split_rows} split, "
            f"{self.dropped_rows} dropped for length; longest {self.longest:,} tokens." + held_out
        )


@dataclass(frozen=True)
class PrepareOptions:
    """How conversations become training rows: the long-output share of the mix, the longest
    row and what to do with longer ones, the eval split, the seed and tokenizing processes."""

    long_share: float = 1.0
    max_length: int = 32_768
    overlong: Overlong = "split"
    seed: int = 0
    eval_fraction: float = 0.0
    workers: int = 1


def prepare(
    tokenizer,
    long_rows: list[Conversation],
    general_rows: list[Conversation],
    out: Path,
    options: PrepareOptions = PrepareOptions(),  # noqa: B008 — frozen, so one shared default
) -> PreparedReport:
    """Write the prepared dataset (and, with eval_fraction, a held-out eval split of whole
    conversations), stats.json and lengths.png into the folder `out`."""
    long_share, max_length, overlong = options.long_share, options.max_length, options.overlong
    seed, eval_fraction, workers = options.seed, options.eval_fraction, options.workers
    from datasets import Dataset

    if not 0 <= eval_fraction < 1:
        raise UserError(key="error.eval_fraction")
    long_ids = {id(row) for row in long_rows}
    mixed = mix(long_rows, general_rows, long_share, seed) if general_rows else list(long_rows)
    held_out = held_out_indices(len(mixed), eval_fraction, seed)
    input_ids, labels, output_words, token_lengths = [], [], [], []
    eval_ids, eval_labels = [], []
    split = dropped = 0
    for index, (conversation, row) in enumerate(
        zip(mixed, tokenize_all(tokenizer, mixed, workers), strict=True)
    ):
        pieces = fit_length(row, max_length, overlong)
        split += len(pieces) > 1
        dropped += not pieces
        output_words.append(count_words(conversation.messages[-1].content))
        token_lengths.append(len(row.input_ids))
        ids_out, labels_out = (eval_ids, eval_labels) if index in held_out else (input_ids, labels)
        for piece in pieces:
            ids_out.append(piece.input_ids)
            labels_out.append(piece.labels)
    if not input_ids:
        raise UserError(key="error.all_rows_long", most=max_length)
    out.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict({"input_ids": input_ids, "labels": labels}).save_to_disk(str(out / "data"))
    if eval_ids:
        Dataset.from_dict({"input_ids": eval_ids, "labels": eval_labels}).save_to_disk(
            str(out / "eval")
        )
    report = PreparedReport(
        rows=len(input_ids),
        conversations=len(mixed),
        long_rows=sum(id(row) in long_ids for row in mixed),
        split_rows=split,
        dropped_rows=dropped,
        tokens=sum(map(len, input_ids)),
        target_tokens=sum(sum(1 for x in row if x != IGNORE) for row in labels),
        longest=max(map(len, input_ids + eval_ids)),
        eval_rows=len(eval_ids),
        eval_conversations=len(held_out),
    )
    (out / "stats.json").write_text(json.dumps(report.__dict__, indent=2) + "\n")
    plot_lengths(output_words, token_lengths, out / "lengths.png")
    return report


def held_out_indices(count: int, fraction: float, seed: int) -> set[int]:
    """Which of `count` conversations form the eval split: a seeded random `fraction` of
    them, at least one when the fraction is above zero (and never all of them)."""
    if fraction <= 0 or count < 2:
        return set()
    wanted = min(count - 1, max(1, round(count * fraction)))
    return set(random.Random(seed + 1).sample(range(count), wanted))


def load_eval_split(folder: str | Path):
    """The held-out eval split `prepare --eval-fraction` wrote, or None."""
    from datasets import load_from_disk

    path = Path(folder) / "eval"
    return load_from_disk(str(path)) if path.is_dir() else None


def load_prepared(folder: str | Path):
    """The dataset `prepare` wrote into a folder."""
    from datasets import load_from_disk

    path = Path(folder) / "data"
    if not path.is_dir():
        raise UserError(key="error.no_prepared_data", path=folder)
    return load_from_disk(str(path))


def plot_lengths(output_words: list[int], token_lengths: list[int], path: Path) -> None:
    """Histograms of reply length in words (as in the paper) and of row length in tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (words_axis, tokens_axis) = plt.subplots(1, 2, figsize=(10, 3.5))
    bins = max(10, min(50, int(math.sqrt(len(output_words))) * 2))
    words_axis.hist(output_words, bins=bins, color="#4a7ab5")
    words_axis.set(title="Output length", xlabel="words in the final reply", ylabel="examples")
    tokens_axis.hist(token_lengths, bins=bins, color="#b5774a")
    tokens_axis.set(title="Row length", xlabel="tokens (prompt + reply)", ylabel="rows")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
