"""Supported model families: GGUF architecture names, hyperparameters and tensor layout."""

import math
from dataclasses import dataclass

import gguf
import numpy as np

from engine.errors import UserError


@dataclass(frozen=True)
class Architecture:
    """How one Hugging Face model type becomes a llama.cpp architecture."""

    model_type: str
    gguf_arch: gguf.MODEL_ARCH
    interleave_rotary: bool  # llama.cpp's "normal" rope wants Q/K rows in pairs, not halves
    # llama.cpp's name for this family's pre-tokenizer where its split equals Llama 3's
    pre_tokenizer: str | None = None
    # special tokens llama.cpp's own conversion names, by kind ("eot" ends a turn)
    special_tokens: tuple[tuple[str, str], ...] = ()


# GLM-4 ends the assistant's turn when the next role tag, <|user|>, would begin
GLM_SPECIALS = (("eos", "<|endoftext|>"), ("eot", "<|user|>"), ("unk", "<|endoftext|>"))
ARCHITECTURES = {
    arch.model_type: arch
    for arch in (
        Architecture("llama", gguf.MODEL_ARCH.LLAMA, interleave_rotary=True),
        Architecture("qwen2", gguf.MODEL_ARCH.QWEN2, interleave_rotary=False),
        Architecture("qwen3", gguf.MODEL_ARCH.QWEN3, interleave_rotary=False),
        # GLM-4-9B (LongWriter-glm4-9b's base) in transformers' own layout; its rope already
        # rotates adjacent pairs of the first half of each head, as llama.cpp's "normal" rope
        Architecture(
            "glm",
            gguf.MODEL_ARCH.CHATGLM,
            interleave_rotary=False,
            pre_tokenizer="chatglm-bpe",
            special_tokens=GLM_SPECIALS,
        ),
        # GLM-4-0414: the same with a norm after attention and after the MLP
        Architecture(
            "glm4",
            gguf.MODEL_ARCH.GLM4,
            interleave_rotary=False,
            pre_tokenizer="chatglm-bpe",
            special_tokens=(*GLM_SPECIALS, ("bos", "<|endoftext|>")),
        ),
    )
}


# GLM-4-9B in THUDM's remote-code layout is read as transformers' `glm` (see gguf.chatglm)
LAYOUTS = {"chatglm": "glm"}


def architecture_for(model_type: str | None) -> Architecture:
    """The Architecture of a config.json's model type, or a UserError naming supported ones."""
    model_type = LAYOUTS.get(model_type, model_type)
    if model_type not in ARCHITECTURES:
        supported = ", ".join(sorted([*ARCHITECTURES, *LAYOUTS]))
        raise UserError(key="error.model_type", kind=model_type, supported=supported)
    return ARCHITECTURES[model_type]


def head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def rotary_fraction(config) -> float:
    """The share of each head's dimensions that rope rotates (GLM-4 rotates half)."""
    fraction = rope_parameters(config).get("partial_rotary_factor")
    return float(fraction or getattr(config, "partial_rotary_factor", None) or 1.0)


def rope_parameters(config) -> dict:
    """Rope settings from a transformers 5 (`rope_parameters`) or 4 (`rope_theta`) config."""
    params = dict(getattr(config, "rope_parameters", None) or {})
    scaling = getattr(config, "rope_scaling", None) or {}
    params = {**scaling, **params}
    params.setdefault("rope_theta", getattr(config, "rope_theta", 10_000.0))
    params["rope_type"] = params.get("rope_type") or params.get("type") or "default"
    return params


def add_hyperparameters(writer: gguf.GGUFWriter, config, n_vocab: int) -> None:
    """Write the `<arch>.*` keys llama.cpp reads to build the graph."""
    writer.add_vocab_size(n_vocab)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    dim = head_dim(config)
    writer.add_rope_dimension_count(int(dim * rotary_fraction(config)))
    if dim * config.num_attention_heads != config.hidden_size:
        writer.add_key_length(dim)
        writer.add_value_length(dim)
    rope = rope_parameters(config)
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    if rope["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))
    elif rope["rope_type"] not in ("default", "llama3"):
        raise UserError(key="error.rope_scaling", kind=rope["rope_type"])


def extra_tensors(config) -> dict[str, np.ndarray]:
    """Tensors llama.cpp needs that the checkpoint does not store (Llama 3.1 rope factors)."""
    rope = rope_parameters(config)
    if rope["rope_type"] != "llama3":
        return {}
    return {"rope_freqs.weight": llama3_rope_factors(rope, head_dim(config))}


def llama3_rope_factors(rope: dict, dim: int) -> np.ndarray:
    """Per-frequency divisors of Llama 3.1's rope scaling (long wavelengths are stretched)."""
    factor = rope["factor"]
    low, high = rope.get("low_freq_factor", 1.0), rope.get("high_freq_factor", 4.0)
    original = rope.get("original_max_position_embeddings", 8192)
    freqs = 1.0 / (rope["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    factors = []
    for freq in freqs:
        wavelength = 2 * math.pi / freq
        if wavelength < original / high:
            factors.append(1.0)
        elif wavelength > original / low:
            factors.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def interleave_rotary_rows(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder each head's Q/K rows from halves (x0..x31, y0..y31) to pairs (x0, y0, x1, …)."""
    rows = weight.shape[0]
    halves = weight.reshape(n_heads, 2, rows // n_heads // 2, *weight.shape[1:])
    return halves.swapaxes(1, 2).reshape(weight.shape)


def tensor_names(arch: Architecture, config, hf_names: list[str]) -> dict[str, str]:
    """GGUF name of each checkpoint tensor that goes into the file (tied heads are left out)."""
    names = gguf.get_tensor_name_map(arch.gguf_arch, config.num_hidden_layers)
    tied = getattr(config, "tie_word_embeddings", False)
    result = {}
    for hf_name in hf_names:
        if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise UserError(
                key="error.stray_tensor", tensor=hf_name, arch=arch.gguf_arch.name.lower()
            )
        result[hf_name] = name
    return result


def to_gguf_layout(arch: Architecture, config, hf_name: str, tensor: np.ndarray) -> np.ndarray:
    """A checkpoint tensor in the row order llama.cpp's rope expects."""
    if not arch.interleave_rotary:
        return tensor
    if hf_name.endswith(("q_proj.weight", "q_proj.bias")):
        return interleave_rotary_rows(tensor, config.num_attention_heads)
    if hf_name.endswith(("k_proj.weight", "k_proj.bias")):
        return interleave_rotary_rows(tensor, config.num_key_value_heads)
    return tensor
