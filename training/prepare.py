"""Data preparation for SFT: validate, mix long-output with general data, tokenize with the
model's own chat template, label only assistant tokens (their end-of-turn EOS included), split
or drop rows longer than the pack length, and report the length distribution.

The result is a `datasets` folder with "input_ids" and "labels" (-100 where no loss is taken),
which TRL's SFTTrainer packs without tokenizing again.
"""

import json
import math
import random
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
    just after its end-of-turn EOS token."""
    messages = [m.model_dump() for m in conversation.messages]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    eos = tokenizer.eos_token
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(
            messages[:i], tokenize=False, add_generation_prompt=True
        )
        through = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not text.startswith(before) or not text.startswith(through):
            raise UserError(key="error.template_not_append")
        end = through.rfind(eos, len(before))
        if end < 0:
            raise UserError(key="error.template_eos", eos=eos)
        spans.append((len(before), end + len(eos)))
    return text, spans


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

    def summary(self) -> str:
        return (
            f"{self.rows:,} rows from {self.conversations:,} conversations "
            f"({self.long_rows:,} long-output), {self.tokens:,} tokens of which "
            f"{self.target_tokens:,} are targets; {self.split_rows} split, "
            f"{self.dropped_rows} dropped for length; longest {self.longest:,} tokens."
        )


def prepare(
    tokenizer,
    long_rows: list[Conversation],
    general_rows: list[Conversation],
    out: Path,
    long_share: float = 1.0,
    max_length: int = 32_768,
    overlong: Overlong = "split",
    seed: int = 0,
) -> PreparedReport:
    """Write the prepared dataset, stats.json and lengths.png into the folder `out`."""
    from datasets import Dataset

    long_ids = {id(row) for row in long_rows}
    mixed = mix(long_rows, general_rows, long_share, seed) if general_rows else list(long_rows)
    input_ids, labels, output_words, token_lengths = [], [], [], []
    split = dropped = 0
    for conversation in mixed:
        row = tokenize(tokenizer, conversation)
        pieces = fit_length(row, max_length, overlong)
        split += len(pieces) > 1
        dropped += not pieces
        output_words.append(count_words(conversation.messages[-1].content))
        token_lengths.append(len(row.input_ids))
        for piece in pieces:
            input_ids.append(piece.input_ids)
            labels.append(piece.labels)
    if not input_ids:
        raise UserError(key="error.all_rows_long", most=max_length)
    out.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict({"input_ids": input_ids, "labels": labels}).save_to_disk(str(out / "data"))
    report = PreparedReport(
        rows=len(input_ids),
        conversations=len(mixed),
        long_rows=sum(id(row) in long_ids for row in mixed),
        split_rows=split,
        dropped_rows=dropped,
        tokens=sum(map(len, input_ids)),
        target_tokens=sum(sum(1 for x in row if x != IGNORE) for row in labels),
        longest=max(map(len, input_ids)),
    )
    (out / "stats.json").write_text(json.dumps(report.__dict__, indent=2) + "\n")
    plot_lengths(output_words, token_lengths, out / "lengths.png")
    return report


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
