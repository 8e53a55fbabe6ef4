"""QLoRA voices for the 8B/9B bases: the recipe they train with, the GPU memory estimate they
print, and the one-line refusals where QLoRA cannot run (no GPU here, so the refusal is what
runs for real)."""

import json

import pytest
from transformers import GlmConfig, LlamaConfig

from engine.errors import UserError
from tests.conftest import one_line_error, run_cli
from training.voice import train
from training.voice.memory import parameter_count, qlora_memory
from training.voice.train import VoiceSettings, sft_recipe

# The published configs of the two LongWriter bases (config.json of Llama-3.1-8B, GLM-4-9B)
LLAMA_8B = LlamaConfig(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    vocab_size=128256,
    tie_word_embeddings=False,
)
GLM_9B = GlmConfig(
    hidden_size=4096,
    intermediate_size=13696,
    num_hidden_layers=40,
    num_attention_heads=32,
    num_key_value_heads=2,
    head_dim=128,
    vocab_size=151552,
    tie_word_embeddings=False,
)


def test_the_estimate_counts_the_published_sizes_of_both_bases():
    """Their published parameter counts, less the norms (and GLM's query/key/value biases),
    which the estimate leaves out: 8,030,261,248 and 9,399,951,360."""
    assert parameter_count(LLAMA_8B) + norm_weights(LLAMA_8B) == 8_030_261_248
    glm_biases = 40 * (4096 + 2 * 2 * 128)
    assert parameter_count(GLM_9B) + norm_weights(GLM_9B) + glm_biases == 9_399_951_360


def norm_weights(config) -> int:
    """Two RMS norms a block and the final one."""
    return (2 * config.num_hidden_layers + 1) * config.hidden_size


def test_the_estimate_parts():
    """NF4 base plus bf16 embeddings and head; longer rows cost activations and logits only."""
    short, long = qlora_memory(LLAMA_8B, 16, 4096), qlora_memory(LLAMA_8B, 16, 8192)
    assert 5.5 < short.base < 6.0  # 6.98 B block weights at 4.127 bits, 1.05 B × 2 in bf16
    assert (long.base, long.lora) == (short.base, short.lora)
    assert long.logits == pytest.approx(2 * short.logits)
    assert long.activations == pytest.approx(2 * short.activations)
    assert qlora_memory(LLAMA_8B, 64, 4096).lora == pytest.approx(4 * short.lora)
    assert "GB of GPU memory (an estimate" in short.summary()


def test_a_qlora_recipe_trains_the_4_bit_base_in_bf16(tmp_path):
    settings = VoiceSettings(base="THUDM/LongWriter-llama3.1-8b", rank=16, qlora=True)
    recipe = sft_recipe(settings, tmp_path / "data", tmp_path / "out", longest=3000)
    assert recipe.lora.quantize_4bit and recipe.lora.r == 16 and recipe.lora.alpha == 32
    assert recipe.model.dtype == "bfloat16" and recipe.pack_length == 3000
    assert recipe.trainer["bf16"] and recipe.trainer["activation_checkpointing"]
    assert recipe.trainer["use_cpu"] is False
    cpu = sft_recipe(VoiceSettings(), tmp_path / "data", tmp_path / "out", longest=3000)
    assert not cpu.lora.quantize_4bit and cpu.model.dtype == "float32"


def test_qlora_without_a_gpu_is_refused_in_one_line(tmp_path):
    out = tmp_path / "voice"
    result = run_cli("voice", "train", str(tmp_path / "data"), "--qlora", "-o", str(out))
    assert "--qlora needs a CUDA GPU" in one_line_error(result)
    assert not out.exists()  # refused before anything was written or loaded


def test_qlora_with_dpo_is_refused(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())
    with pytest.raises(UserError) as caught:
        train.check_qlora(dpo=True)
    assert caught.value.key == "error.voice_qlora_dpo"
    train.check_qlora(dpo=False)


def test_a_run_saved_before_qlora_existed_still_resumes(tmp_path):
    """Settings saved without the newer `qlora` field resume as the same run."""
    (tmp_path / "checkpoint-10").mkdir()
    saved = {k: v for k, v in train.asdict(VoiceSettings()).items() if k != "qlora"}
    (tmp_path / "voice-settings.json").write_text(json.dumps(saved))
    train._check_same_run(tmp_path, VoiceSettings())
    with pytest.raises(UserError):
        train._check_same_run(tmp_path, VoiceSettings(qlora=True))


def test_a_gguf_from_the_catalogue_trains_on_its_checkpoint(tmp_path):
    said = []
    gguf = tmp_path / "LongWriter-glm4-9b.Q4_K_M.gguf"
    assert train.qlora_base(str(gguf), said.append) == "THUDM/LongWriter-glm4-9b"
    assert "THUDM/LongWriter-glm4-9b" in said[0]
    assert train.qlora_base("THUDM/LongWriter-llama3.1-8b") == "THUDM/LongWriter-llama3.1-8b"
    for unknown in (str(tmp_path / "my-merge.Q4_K_M.gguf"), "embedded"):
        with pytest.raises(UserError) as caught:
            train.qlora_base(unknown)
        assert caught.value.key == "error.voice_qlora_gguf"


def test_an_adapter_on_a_file_quantized_from_its_checkpoint_allows_for_the_quantization(
    monkeypatch,
):
    """A voice checked on the very GGUF it trained on meets the adapter's own bar; one trained
    on the checkpoint (QLoRA) and checked on a quantized file of it also meets that file's
    quantization error, so it gets the looser bar of the two."""
    from dataclasses import replace

    from engine.models import discovery
    from training.gguf.check import THRESHOLDS
    from training.gguf.lora_adapter import ADAPTER_THRESHOLD, adapter_threshold

    gguf = discovery.embedded_model_path()  # Q4_1: a type without a threshold of its own
    assert adapter_threshold("embedded", gguf) == ADAPTER_THRESHOLD
    assert adapter_threshold(str(gguf), gguf) == ADAPTER_THRESHOLD
    assert adapter_threshold("THUDM/LongWriter-llama3.1-8b", gguf) == THRESHOLDS["Q4_K_M"]
    read = discovery.read_model_info
    for quant, expected in (("F16", ADAPTER_THRESHOLD), ("Q6_K", THRESHOLDS["Q6_K"])):
        monkeypatch.setattr(
            discovery, "read_model_info", lambda path, q=quant: replace(read(path), quantization=q)
        )
        assert adapter_threshold("THUDM/LongWriter-llama3.1-8b", gguf) == expected
