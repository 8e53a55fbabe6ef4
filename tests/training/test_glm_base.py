"""A GLM-4 base in THUDM's remote-code layout (LongWriter-glm4-9b's) trains through a one-time
conversion to transformers' own GLM layout: the converted folder loads without remote code,
predicts exactly like the model it was saved from, tokenizes like the tiktoken tokenizer, and is
reused after. The checkpoint is test_chatglm's tiny random GLM with its small trained BPE."""

import json
from pathlib import Path

import pytest

from tests.gguf.test_chatglm import CHINESE, ENGLISH, PADDED_VOCAB, save_chatglm_checkpoint
from tests.gguf.test_chatglm import train_ranks as tiktoken_ranks
from tests.hub_server import HubServer
from training.glm_base import CONVERTED, chatglm_base, trainable_base


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("glm-base") / "LongWriter-glm4-9b-tiny"
    return folder, save_chatglm_checkpoint(folder, tiktoken_ranks()[0])


def test_converted_base_loads_without_remote_code_and_predicts_the_same(saved, capsys, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    import training.glm_base
    from training.gguf.tiktoken_bpe import load_tiktoken_tokenizer
    from training.models import load_model, load_tokenizer

    folder, original = saved
    (folder / f"{CONVERTED}.partial").mkdir()  # what a killed conversion leaves
    (folder / f"{CONVERTED}.partial" / "config.json").write_text("{}")
    monkeypatch.setattr(training.glm_base, "SHARD_BYTES", 100_000)  # several shards
    target = trainable_base(str(folder))
    assert target == str(folder / CONVERTED)
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "converting it once" in said[0] and target in said[0]
    assert not (folder / f"{CONVERTED}.partial").exists()
    converted = folder / CONVERTED
    assert len(json.loads((converted / "model.safetensors.index.json").read_text())) == 2
    assert len(list(converted.glob("model-*.safetensors"))) > 2

    model = AutoModelForCausalLM.from_pretrained(converted, dtype=torch.float32).eval()
    assert type(model).__name__ == "GlmForCausalLM"  # transformers' own class, no remote code
    ids = torch.randint(0, PADDED_VOCAB, (1, 200), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = original(ids).logits
        assert torch.equal(model(ids).logits, expected)
        # training's own loader goes through the conversion, silently the second time
        reloaded = load_model(str(folder), "float32")
        assert torch.equal(reloaded(ids).logits, expected)
    assert "converting" not in capsys.readouterr().err

    tokenizer, tiktoken = load_tokenizer(str(folder)), load_tiktoken_tokenizer(folder)
    messages = [{"role": "user", "content": CHINESE}, {"role": "assistant", "content": ENGLISH}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == tiktoken.apply_chat_template(messages, tokenize=False)
    assert text.startswith("[gMASK]<sop><|user|>\n")
    assert tokenizer(text).input_ids == tiktoken(text).input_ids
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token is not None


def test_a_complete_conversion_is_reused(saved, monkeypatch):
    import training.glm_base

    folder, _ = saved
    trainable_base(str(folder))
    stamp = (folder / CONVERTED / "config.json").stat().st_mtime_ns

    def refuse(*_):
        raise AssertionError("converted again")

    monkeypatch.setattr(training.glm_base, "convert", refuse)
    assert trainable_base(str(folder)) == str(folder / CONVERTED)
    assert (folder / CONVERTED / "config.json").stat().st_mtime_ns == stamp


HUB_ID = "THUDM/LongWriter-glm4-9b-tiny"


@pytest.fixture
def hub(saved, tmp_path, monkeypatch):
    """A stand-in hub serving the checkpoint (with a modeling file that must never be fetched)
    as HUB_ID, and an empty hub cache."""
    import huggingface_hub.constants

    files = {path.name: path.read_bytes() for path in saved[0].iterdir() if path.is_file()}
    files["modeling_chatglm.py"] = b"raise SystemExit('the remote code ran')\n"
    with HubServer({HUB_ID: files}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
        yield tmp_path / "hub"


def test_a_hub_id_is_downloaded_without_its_code_and_converted(saved, hub):
    import torch

    from training.gguf.lora_adapter import base_config
    from training.models import load_model

    assert base_config(HUB_ID).model_type == "glm"  # read from config.json alone
    target = Path(trainable_base(HUB_ID))
    assert target.name == CONVERTED and hub in target.parents
    assert (target.parent / "tokenizer.model").is_file()
    assert not (target.parent / "modeling_chatglm.py").exists()
    ids = torch.randint(0, PADDED_VOCAB, (1, 50), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(load_model(HUB_ID, "float32")(ids).logits, saved[1](ids).logits)


def test_other_bases_are_left_as_they_are(hub, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert trainable_base(str(tmp_path)) == str(tmp_path)
    assert trainable_base("HuggingFaceTB/SmolLM2-135M-Instruct") == (
        "HuggingFaceTB/SmolLM2-135M-Instruct"  # not on this hub: from_pretrained will say so
    )
    assert trainable_base("embedded") == "embedded"
    assert not (tmp_path / CONVERTED).exists()


def test_a_hub_gone_mid_way_is_one_line(saved, tmp_path, monkeypatch):
    """config.json came, then the hub went away: one line saying what to do, nothing converted."""
    import huggingface_hub.constants

    from engine.errors import UserError

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with HubServer({HUB_ID: {"config.json": (saved[0] / "config.json").read_bytes()}}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        folder, _ = chatglm_base(HUB_ID)
    with pytest.raises(UserError) as raised:
        trainable_base(HUB_ID)
    message = str(raised.value)
    print(message)
    assert "\n" not in message and "run again" in message
    assert not (folder / CONVERTED).exists()
