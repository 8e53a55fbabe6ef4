"""Data preparation: chat template, assistant-only labels with EOS, mixing, over-long rows."""

import json

import pytest

from engine.errors import UserError
from training.prepare import (
    IGNORE,
    PrepareOptions,
    TokenizedRow,
    fit_length,
    load_prepared,
    mix,
    prepare,
)
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
    prepare(tokenizer, [CHAT], [], tmp_path / "out", PrepareOptions(max_length=4096))
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
    whole = prepare(
        tokenizer, [long_reply], [], tmp_path / "whole", PrepareOptions(max_length=4096)
    )
    split = prepare(tokenizer, [long_reply], [], tmp_path / "split", PrepareOptions(max_length=128))
    assert split.rows > 1 and split.split_rows == 1 and split.longest <= 128
    assert split.target_tokens == whole.target_tokens
    with pytest.raises(UserError, match="--max-length"):
        prepare(
            tokenizer,
            [long_reply],
            [],
            tmp_path / "drop",
            PrepareOptions(max_length=128, overlong="drop"),
        )


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


# THUDM/glm-4-9b-chat's chat_template, verbatim from its public tokenizer_config.json (as
# llama.cpp's tests/test-chat-template.cpp quotes it): no EOS after a reply; the turn ends
# where the next role tag, <|user|>, begins.
GLM4_CHAT_TEMPLATE = (
    "[gMASK]<sop>{% for item in messages %}{% if item['tools'] is defined %}<|system|>\n"
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，"
    "你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具"
    "{% set tools = item['tools'] %}{% for tool in tools %}{% if tool['type'] == 'function' %}"
    "\n\n## {{ tool['function']['name'] }}\n\n{{ tool['function'] | tojson(indent=4) }}\n......"
    "{% endif %}{% endfor %}{% endif %}{% if item['content'] %}<|{{ item['role'] }}|>"
    "{{ item['metadata'] }}\n{{ item['content'] }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
GLM4_SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>",
                 "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"]  # fmt: skip


@pytest.fixture(scope="module")
def glm4_tokenizer():
    """A byte-level BPE with a tiny vocabulary (300 tokens), GLM-4's special tokens, its EOS
    (<|endoftext|>) and its real chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    corpus = [m.content for m in CHAT.messages] * 4
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=GLM4_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=GLM4_SPECIALS[1:],
    )
    tokenizer.chat_template = GLM4_CHAT_TEMPLATE
    return tokenizer


def test_glm4_replies_end_with_the_token_the_gguf_stops_on(glm4_tokenizer, tmp_path):
    from training.gguf.architectures import ARCHITECTURES

    # the exported GLM GGUF ends a turn ("eot") on this token
    stop = dict(ARCHITECTURES["glm"].special_tokens)["eot"]
    stop_id = glm4_tokenizer.convert_tokens_to_ids(stop)
    prepare(glm4_tokenizer, [CHAT], [], tmp_path / "out", PrepareOptions(max_length=4096))
    row = load_prepared(tmp_path / "out")[0]
    ids, labels = row["input_ids"], row["labels"]
    runs, current = [], []
    for token, label in zip(ids, labels, strict=True):
        if label == IGNORE:
            runs, current = (runs + [current], []) if current else (runs, current)
        else:
            current.append(token)
    runs += [current] if current else []
    assert [glm4_tokenizer.decode(run) for run in runs] == [
        "Rain taps the roof.\nThe street shines.<|user|>",
        "Snow hushes the town.<|user|>",
    ]
    assert all(run[-1] == stop_id for run in runs)
    # the row is the template's own text, with the closing tag after the last reply
    messages = [m.model_dump() for m in CHAT.messages]
    assert (
        glm4_tokenizer.decode(ids)
        == glm4_tokenizer.apply_chat_template(messages, tokenize=False) + stop
    )


def test_parallel_tokenization_gives_the_same_rows(tokenizer, tmp_path):
    rows = [conversation(f"Reply number {i}: " + "word " * (i % 7)) for i in range(40)] + [CHAT]
    one = prepare(tokenizer, rows, [], tmp_path / "one", PrepareOptions(max_length=4096, workers=1))
    two = prepare(tokenizer, rows, [], tmp_path / "two", PrepareOptions(max_length=4096, workers=2))
    assert one == two
    assert load_prepared(tmp_path / "one").to_dict() == load_prepared(tmp_path / "two").to_dict()


def test_eval_split_holds_out_whole_conversations(tokenizer, tmp_path):
    from training.prepare import load_eval_split

    rows = [conversation(f"Reply {i}.") for i in range(20)]
    report = prepare(
        tokenizer, rows, [], tmp_path / "out", PrepareOptions(max_length=4096, eval_fraction=0.1)
    )
    assert report.eval_conversations == 2 and report.eval_rows == 2 and report.rows == 18
    train_rows = {tuple(r) for r in load_prepared(tmp_path / "out")["input_ids"]}
    eval_rows = {tuple(r) for r in load_eval_split(tmp_path / "out")["input_ids"]}
    assert len(eval_rows) == 2 and not train_rows & eval_rows
    assert load_eval_split(tmp_path / "none") is None
    with pytest.raises(UserError, match="eval-fraction"):
        prepare(tokenizer, rows, [], tmp_path / "bad", PrepareOptions(eval_fraction=1.0))
