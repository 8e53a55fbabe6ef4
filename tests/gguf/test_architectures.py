"""Each supported architecture converts exactly (tiny random models, checked in llama.cpp)."""

import dataclasses

import gguf
import numpy as np
import pytest

from tests.gguf.conftest import save_tiny_model
from training.gguf import architectures, export
from training.gguf.convert import write_float_gguf
from training.gguf.export import export_gguf, source_type

pytestmark = pytest.mark.slow  # tiny models are built, converted and run through llama.cpp

LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 64,
}
CASES = {
    "llama-tied": ("llama", {"tie_word_embeddings": True}),
    "llama3-rope": ("llama", {"rope_parameters": LLAMA3_ROPE, "tie_word_embeddings": False}),
    "qwen2": ("qwen2", {"tie_word_embeddings": True}),
    "qwen3": ("qwen3", {"head_dim": 32, "tie_word_embeddings": False}),
}


@pytest.mark.parametrize("case", CASES)
def test_tiny_model_converts_exactly(case, trained_checkpoint, tmp_path):
    model_type, config = CASES[case]
    folder = save_tiny_model(tmp_path / case, trained_checkpoint, model_type, **config)
    [result] = export_gguf(folder, tmp_path / "models", ["F16"])
    print(case, result.check.summary())
    assert result.check.decided_positions >= 64
    assert result.check.passed, result.check.summary()
    assert result.check.top1_agreement >= 0.97
    reader = gguf.GGUFReader(result.path)
    assert reader.fields["general.architecture"].contents() == model_type
    assert ("rope_freqs.weight" in [t.name for t in reader.tensors]) == (case == "llama3-rope")


def test_a_wrong_conversion_is_not_kept(trained_checkpoint, tmp_path, monkeypatch):
    """Leaving Q/K in Hugging Face's rotary layout breaks attention; the check must notice."""
    folder = save_tiny_model(tmp_path / "llama", trained_checkpoint, "llama")
    broken = dataclasses.replace(architectures.ARCHITECTURES["llama"], interleave_rotary=False)
    monkeypatch.setitem(architectures.ARCHITECTURES, "llama", broken)
    [result] = export_gguf(folder, tmp_path / "models", ["F16"])
    print(result.check.summary())
    assert not result.check.passed
    assert result.path is None and not list((tmp_path / "models").iterdir())


def test_lora_adapter_is_merged(trained_checkpoint, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = save_tiny_model(tmp_path / "base", trained_checkpoint, "llama")
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = get_peft_model(AutoModelForCausalLM.from_pretrained(base), lora)
    adapter.save_pretrained(tmp_path / "adapter")
    [merged] = export_gguf(tmp_path / "adapter", tmp_path / "models", ["F16"], name="merged")
    [plain] = export_gguf(base, tmp_path / "models", ["F16"], name="plain")
    assert merged.check.passed, merged.check.summary()

    def attn_v(path):
        tensors = {t.name: t for t in gguf.GGUFReader(path).tensors}
        return np.array(tensors["blk.0.attn_v.weight"].data, dtype=np.float32)

    assert not np.allclose(attn_v(merged.path), attn_v(plain.path), atol=1e-3)


@pytest.mark.parametrize(
    ("saved", "source"),
    [("bfloat16", "BF16"), ("torch.bfloat16", "BF16"), ("float16", "F16"), ("float32", "F32")],
)
def test_quantizations_start_from_the_saved_precision(saved, source):
    assert source_type(saved) == source


def test_bf16_checkpoint_needs_no_float32_file(trained_checkpoint, tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    folder = save_tiny_model(tmp_path / "tiny", trained_checkpoint, "llama")
    AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).save_pretrained(folder)
    written = []

    def recording(checkpoint, vocab, description, float_type, path):
        written.append(float_type)
        return write_float_gguf(checkpoint, vocab, description, float_type, path)

    monkeypatch.setattr(export, "write_float_gguf", recording)
    [bf16, q8] = export.export_gguf(folder, tmp_path / "models", ["BF16", "Q8_0"])
    assert written == ["BF16"]
    assert bf16.check.passed, bf16.check.summary()
    # the same Q8_0 as one quantized from a float32 file: bf16 values are exact in float32
    monkeypatch.setattr(export, "source_type", lambda saved_dtype: "F32")
    [q8_via_f32] = export.export_gguf(folder, tmp_path / "models-f32", ["Q8_0"])
    assert written == ["BF16", "F32"]
    assert q8.check.mean_kl == q8_via_f32.check.mean_kl


@pytest.mark.parametrize(("model_type", "gguf_arch"), [("glm", "chatglm"), ("glm4", "glm4")])
def test_glm_converts_exactly_and_writes(model_type, gguf_arch, glm_tokenizer, tmp_path):
    from transformers import AutoTokenizer

    from engine.models.backends.base import ChatRequest
    from engine.models.backends.llama_cpp import LlamaCppBackend
    from engine.models.settings import LoadSettings
    from engine.schema import SamplingSettings
    from tests.gguf.conftest import GLM_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(glm_tokenizer)
    folder = save_tiny_model(
        tmp_path / model_type,
        glm_tokenizer,
        model_type,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        head_dim=16,  # 4 heads of 16; GLM-4 rotates the first half of each head
        partial_rotary_factor=0.5,
        tie_word_embeddings=False,
    )
    [result] = export_gguf(folder, tmp_path / "models", ["F16"])
    print(model_type, result.check.summary())
    assert result.check.tokenizer_matches
    assert result.check.passed, result.check.summary()
    assert result.check.top1_agreement >= 0.97
    fields = gguf.GGUFReader(result.path).fields

    def value(key):
        return fields[key].contents()

    assert value("general.architecture") == gguf_arch
    assert value("tokenizer.ggml.pre") == "chatglm-bpe"
    assert value(f"{gguf_arch}.rope.dimension_count") == 8
    assert value("tokenizer.ggml.eos_token_id") == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert value("tokenizer.ggml.eot_token_id") == tokenizer.convert_tokens_to_ids("<|user|>")
    assert value("tokenizer.chat_template") == GLM_TEMPLATE

    backend = LlamaCppBackend(result.path, LoadSettings(n_ctx=512))
    try:
        messages = [{"role": "user", "content": "Write one line about the sea."}]
        request = ChatRequest(
            messages=messages, max_tokens=12, sampling=SamplingSettings(temperature=0.0, seed=0)
        )
        text = "".join(backend.stream(request))
        prompt = backend.render(messages)
        usage = backend.last_usage
    finally:
        backend.close()
    assert prompt.startswith("[gMASK]<sop><|user|>\nWrite one line") and prompt.endswith(
        "<|assistant|>\n"
    )
    assert usage.output_tokens > 0 and isinstance(text, str)
