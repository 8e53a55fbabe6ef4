"""A voice's LoRA (separate query, key and value pairs, as peft trains transformers' GLM) on a
base GGUF that fuses them into one attn_qkv weight a block, as llama.cpp's own GLM-4 conversion
(the LongWriter-glm4-9b GGUF writers download) does: the adapter is written as one fused pair a
block and predicts in llama.cpp like peft's merged model.

The base is test_chatglm's tiny GLM exported by our exporter (separate attn_q/k/v), and a copy of
that GGUF with each block's three weights and biases fused, made here."""

import json
import re
import subprocess
import sys

import gguf
import numpy as np
import pytest

from tests.conftest import REPO
from tests.gguf.test_chatglm import save_chatglm_checkpoint
from tests.gguf.test_chatglm import train_ranks as tiktoken_ranks
from training.gguf.lora_adapter import check_adapter, write_lora_gguf
from training.glm_base import CONVERTED

RANK, ALPHA = 4, 8


def copy_gguf(source, target, change) -> None:
    """source's metadata and tensors written to target, the tensors through change(dict)."""
    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(target, reader.fields["general.architecture"].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue  # the writer's own
        items = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), field.types[0], sub_type=items)
    for name, array in change({t.name: np.array(t.data) for t in reader.tensors}).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def fuse_qkv(tensors: dict) -> dict:
    """Each block's attn_q/k/v weights and biases as one attn_qkv, rows stacked q, k, v."""
    fused = {}
    for name, array in tensors.items():
        part = re.fullmatch(r"(blk\.\d+)\.attn_([qkv])\.(weight|bias)", name)
        if part is None:
            fused[name] = array
        elif part[2] == "q":
            stacked = [tensors[f"{part[1]}.attn_{kind}.{part[3]}"] for kind in "qkv"]
            fused[f"{part[1]}.attn_qkv.{part[3]}"] = np.concatenate(stacked)
    return fused


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    """The remote-code checkpoint, its two base GGUFs, a LoRA on it with random non-zero A and
    B, and the reference logits of peft's merged model and of the base."""
    import torch
    from peft import LoraConfig, get_peft_model

    from training.gguf.check import reference
    from training.gguf.export import export_gguf
    from training.models import load_model, load_tokenizer

    root = tmp_path_factory.mktemp("fused")
    checkpoint = root / "LongWriter-glm4-9b-tiny"
    save_chatglm_checkpoint(checkpoint, tiktoken_ranks()[0])
    [exported] = export_gguf(checkpoint, root / "models", ["F16"])
    separate, fused = exported.path, root / "fused-F16.gguf"
    copy_gguf(separate, fused, fuse_qkv)

    tokenizer = load_tokenizer(str(checkpoint))
    model = load_model(str(checkpoint), "float32").eval()
    base_ref = reference(model, tokenizer)
    torch.manual_seed(0)
    config = LoraConfig(
        r=RANK, lora_alpha=ALPHA, target_modules="all-linear", init_lora_weights=False
    )
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(root / "adapter")
    merged = peft_model.merge_and_unload().eval()
    return {
        "checkpoint": checkpoint,
        "separate": separate,
        "fused": fused,
        "adapter": root / "adapter",
        "ref": reference(merged, tokenizer),
        "base_ref": base_ref,
        "root": root,
    }


@pytest.mark.slow  # a tiny model is exported and run through llama.cpp
def test_llama_cpp_reads_the_fused_copy_as_the_same_model(voice):
    from llama_cpp import Llama

    names = [tensor.name for tensor in gguf.GGUFReader(voice["fused"]).tensors]
    assert "blk.0.attn_qkv.weight" in names and "blk.1.attn_qkv.bias" in names
    assert not any(".attn_q." in name for name in names)
    tokens = voice["ref"].tokens
    logits = []
    for path in (voice["separate"], voice["fused"]):
        llm = Llama(model_path=str(path), n_ctx=512, n_batch=512, logits_all=True, verbose=False)
        try:
            llm.eval(tokens)
            logits.append(np.array(llm.scores[: len(tokens)]))
        finally:
            llm.close()
    assert np.allclose(logits[0], logits[1], atol=1e-3)


@pytest.mark.slow  # a tiny model is exported and run through llama.cpp
def test_the_adapter_for_a_fused_base_predicts_like_the_merged_model(voice):
    """Also: the LoRA moves predictions (so agreeing means it was applied), and the same pairs
    without the rank correction (llama.cpp scaling by alpha / 3r, not alpha / r) miss."""
    base = str(voice["checkpoint"])  # the remote-code folder the voice was trained on
    path = write_lora_gguf(
        voice["adapter"], base, voice["root"] / "voice-fused.gguf", "F16", base_gguf=voice["fused"]
    )
    tensors = {t.name: np.array(t.data, dtype=np.float32) for t in gguf.GGUFReader(path).tensors}
    assert "blk.0.attn_qkv.weight.lora_a" in tensors
    assert not any(".attn_q." in name or ".attn_k." in name for name in tensors)
    assert tensors["blk.0.attn_qkv.weight.lora_a"].shape == (3 * RANK, 64)  # 3r × input
    assert tensors["blk.0.attn_qkv.weight.lora_b"].shape == (64 + 32 + 32, 3 * RANK)

    from safetensors.numpy import load_file

    peft = load_file(str(voice["adapter"] / "adapter_model.safetensors"))
    prefix = "base_model.model.model.layers.0.self_attn"
    lora_b = tensors["blk.0.attn_qkv.weight.lora_b"]
    b_k = peft[f"{prefix}.k_proj.lora_B.weight"]
    assert np.allclose(lora_b[64:96, RANK : 2 * RANK], 3 * b_k, atol=2e-3)  # k's diagonal block
    assert not lora_b[64:96, :RANK].any() and not lora_b[64:96, 2 * RANK :].any()

    result = check_adapter(path, voice["fused"], voice["ref"], "F16")
    print("fused:", result.summary())
    assert result.passed and result.decided_agreement >= 0.98, result.summary()
    assert result.decided_positions >= 64

    unadapted = base_agreement(voice)
    print(f"base alone: top-1 agreement {unadapted:.3f} with the merged model")
    assert unadapted < 0.9  # the LoRA changes what the model predicts

    uncorrected = voice["root"] / "voice-uncorrected.gguf"
    copy_gguf(path, uncorrected, undo_rank_correction)
    missed = check_adapter(uncorrected, voice["fused"], voice["ref"], "F16")
    print("without the factor 3:", missed.summary())
    assert not missed.passed
    assert missed.mean_kl > 5 * max(result.mean_kl, 1e-3)


@pytest.mark.slow  # a tiny model is exported and run through llama.cpp
def test_without_a_base_gguf_the_adapter_keeps_separate_pairs(voice):
    path = write_lora_gguf(
        voice["adapter"], str(voice["checkpoint"]), voice["root"] / "voice.gguf", "F16"
    )
    names = [tensor.name for tensor in gguf.GGUFReader(path).tensors]
    assert "blk.0.attn_q.weight.lora_a" in names and not any("attn_qkv" in n for n in names)
    result = check_adapter(path, voice["separate"], voice["ref"], "F16")
    print("separate:", result.summary())
    assert result.passed, result.summary()


def base_agreement(voice) -> float:
    """Top-1 agreement of the merged model with the base alone, on its decided positions."""
    from training.gguf.check import decided_positions

    ref, base = voice["ref"].logits, voice["base_ref"].logits
    decided = decided_positions(ref)
    return float(np.mean((ref.argmax(-1) == base.argmax(-1))[decided]))


def undo_rank_correction(tensors: dict) -> dict:
    """The fused pairs as they would be without the correction for llama.cpp's rank."""
    return {
        name: array / 3 if name.endswith("attn_qkv.weight.lora_b") else array
        for name, array in tensors.items()
    }


def test_a_fused_pair_adds_what_the_separate_pairs_add():
    """llama.cpp's alpha / (rank of the fused pair) · B·A equals peft's alpha / r · B_x·A_x for
    each part, with unequal ranks, and a part the LoRA left out adds nothing."""
    from types import SimpleNamespace

    from training.gguf.lora_adapter import fused_pair

    config = SimpleNamespace(num_attention_heads=4, num_key_value_heads=2, head_dim=16)
    generator = np.random.default_rng(0)
    parts = {
        kind: (generator.normal(size=(rank, 64)), generator.normal(size=(rows, rank)))
        for kind, rank, rows in (("q", 4, 64), ("v", 2, 32))
    }
    lora_a, lora_b = fused_pair(config, parts)
    assert lora_a.shape == (6, 64) and lora_b.shape == (128, 6)
    applied = ALPHA / lora_b.shape[1] * lora_b @ lora_a  # llama.cpp: the rank from lora_b
    a_q, b_q = parts["q"]
    a_v, b_v = parts["v"]
    assert np.allclose(applied[:64], ALPHA / 4 * b_q @ a_q, atol=1e-4)  # B in float32
    assert not applied[64:96].any()  # k, not adapted
    assert np.allclose(applied[96:], ALPHA / 2 * b_v @ a_v, atol=1e-4)


@pytest.mark.slow  # a voice is trained on the tiny base and checked through llama.cpp
def test_a_voice_on_the_remote_code_base_exports_for_the_fused_gguf(voice):
    """`voice train --base FOLDER` on the remote-code checkpoint (converted once for training),
    then `export gguf-lora --base-gguf` for the fused GGUF: written fused and checked."""
    from bench.synthetic_writer import manuscript
    from bench.voice import scripted_rows
    from harness.fake_backend import FakeBackend
    from training.voice.data import build_voice_data, read_sources
    from training.voice.train import VoiceSettings, train_voice

    root = voice["root"]
    source = root / "writer.md"
    source.write_text(manuscript(seed=0, pieces=4, sections=4, words=45), encoding="utf-8")
    build_voice_data(
        FakeBackend(scripted_rows), read_sources([str(source)]), root / "data", needed=500
    )
    settings = VoiceSettings(
        base=str(voice["checkpoint"]), steps=4, rank=4, learning_rate=1e-3, save_steps=4
    )
    report = train_voice(root / "data", root / "voice", settings)
    print(report.summary())
    assert report.held_out_loss_after < report.held_out_loss_before
    adapter_config = json.loads((root / "voice" / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str(voice["checkpoint"] / CONVERTED)
    target = root / "voice-trained.gguf"
    command = [sys.executable, "-m", "app", "export", "gguf-lora", str(root / "voice")]
    command += ["-o", str(target), "--base-gguf", str(voice["fused"])]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr
    print(result.stderr.strip().splitlines()[-1])
    assert re.search(r"top-1 agreement (1\.000|0\.9[89]\d) on \d+ decided", result.stderr)
    names = [tensor.name for tensor in gguf.GGUFReader(target).tensors]
    assert "blk.1.attn_qkv.weight.lora_b" in names and "blk.1.ffn_up.weight.lora_a" in names
