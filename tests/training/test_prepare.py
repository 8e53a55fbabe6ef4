"""Data preparation: chat template, assistant-only labels with EOS, mixing, over-long rows."""

import json

import pytest

from engine.errors import UserError
from training.prepare import IGNORE, TokenizedRow, fit_length, load_prepared, mix, prepare
from training.records import Conversation, read_jsonl

CHAT = Conversation(
    messages=[
        {"role": "system", "content": "You write long, careful prose."},
        {"role": "user", "content": "Write two lines about rain."},
        {"role": "assistant", "content": "Rain taps the roof.\nThe street shines."},
        {"role": "user", "content": "Now one about snow."},
        {"role": "assistant", "content": "Snow hushes the town."},
    ]
)


def conversation(reply: str) -> Conversation:
    return Conversation(
        messages=[{"role": "user", "content": "Write."}, {"role": "assistant", "content": reply}]
    )


def test_prepared_row_decodes_to_template_with_assistant_labels_and_eos(tokenizer, tmp_path):
    prepare(tokenizer, [CHAT], [], tmp_path / "out", max_length=4096)
    row = load_prepared(tmp_path / "out")[0]
    ids, labels = row["input_ids"], row["labels"]

    messages = [m.model_dump() for m in CHAT.messages]
    assert tokenizer.decode(ids) == tokenizer.apply_chat_template(messages, tokenize=False)
    # runs of labelled tokens are exactly the two replies, each closed by the EOS token
    runs, current = [], []
    for token, label in zip(ids, labels, strict=True):
        if label == IGNORE:
            if current:
                runs.append(current)
            current = []
        else:
            assert label == token
            current.append(token)
    if current:
        runs.append(current)
    eos = tokenizer.eos_token
    assert [tokenizer.decode(run) for run in runs] == [
        "Rain taps the roof.\nThe street shines." + eos,
        "Snow hushes the town." + eos,
    ]
    assert all(run[-1] == tokenizer.eos_token_id for run in runs)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["rows"] == 1 and stats["target_tokens"] == sum(map(len, runs))
    assert (tmp_path / "out" / "lengths.png").stat().st_size > 1000


def test_overlong_rows_split_or_drop():
    row = TokenizedRow(list(range(10)), [IGNORE] * 3 + list(range(3, 10)))
    pieces = fit_length(row, 4, "split")
    assert [p.input_ids for p in pieces] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert sum((p.labels for p in pieces), []) == row.labels
    assert fit_length(row, 4, "drop") == []
    assert fit_length(row, 10, "drop") == [row]


def test_prepare_splits_long_reply_and_keeps_every_target(tokenizer, tmp_path):
    long_reply = conversation(" ".join(["word"] * 300))
    whole = prepare(tokenizer, [long_reply], [], tmp_path / "whole", max_length=4096)
    split = prepare(tokenizer, [long_reply], [], tmp_path / "split", max_length=128)
    assert split.rows > 1 and split.split_rows == 1 and split.longest <= 128
    assert split.target_tokens == whole.target_tokens
    with pytest.raises(UserError, match="--max-length"):
        prepare(tokenizer, [long_reply], [], tmp_path / "drop", max_length=128, overlong="drop")


def test_mix_by_long_share():
    long_rows = [conversation(f"long {i}") for i in range(3)]
    general = [conversation(f"general {i}") for i in range(20)]
    mixed = mix(long_rows, general, long_share=0.25, seed=1)
    assert len(mixed) == 12 and all(row in mixed for row in long_rows)
    assert len(mix(long_rows, general[:2], long_share=0.25)) == 5  # as many as there are


def test_bad_message_file_names_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    good = CHAT.model_dump_json()
    bad = json.dumps({"messages": [{"role": "user", "content": "no reply"}]})
    path.write_text(good + "\n" + bad + "\n")
    with pytest.raises(UserError, match="line 2"):
        read_jsonl(path, Conversation)
