"""A peft LoRA adapter as a GGUF file in llama.cpp's adapter format, and its check.

llama.cpp loads an adapter (`lora_path`) on top of a base GGUF when the file says
`general.type = adapter`, `adapter.type = lora`, names the base's architecture, and holds for
each adapted weight `W` of the base two tensors `<W>.lora_a` and `<W>.lora_b`, named after the
base tensor as the GGUF names it (`blk.3.attn_q.weight.lora_a`). It then adds
`scale · alpha / rank · B·A·x` to `W·x`, which is peft's own LoRA arithmetic.

In row-major (numpy) order lora_a is peft's `lora_A` (rank × input) and lora_b its `lora_B`
(output × rank). The one change: where the base's conversion reorders a weight's rows (Llama's
Q and K rows go from rotary halves to pairs), lora_b's rows are reordered the same way, since
they are the output rows of B·A; lora_a is untouched.

A base GGUF may hold each block's query, key and value as one fused `attn_qkv` weight (llama.cpp's
own GLM-4 conversion does), while the LoRA has a pair for each. Their outputs are stacked, so one
pair does the same: lora_a the three A stacked along the rank, lora_b the three B on its block
diagonal. llama.cpp scales a pair by alpha / the rank it reads from lora_b's shape, here the sum
of the three ranks, so each B is multiplied by that sum over its own rank (3 for equal ranks) to
keep peft's alpha / r.
"""

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from engine.errors import UserError
from engine.models.discovery import embedded_model_path
from training.gguf.architectures import architecture_for, head_dim, tensor_names, to_gguf_layout
from training.gguf.chatglm import glm_config
from training.gguf.check import THRESHOLDS, CheckResult, Reference, Threshold, compared
from training.glm_base import chatglm_base

ADAPTER_TYPES = {"F32": gguf.GGMLQuantizationType.F32, "F16": gguf.GGMLQuantizationType.F16}
# The adapter applied by llama.cpp against peft's merged model in float32: F16 adapter tensors
# move logits far less than the base's own quantization does, which both sides share.
ADAPTER_THRESHOLD = Threshold(0.98, 0.02)
_PEFT_PREFIX = "base_model.model."


@dataclass(frozen=True)
class LoraWeights:
    """One adapted weight: its checkpoint name (`model.layers.0.self_attn.q_proj.weight`) and
    peft's A (rank × input) and B (output × rank)."""

    base_name: str
    a: np.ndarray
    b: np.ndarray


def base_config(base: str):
    """The transformers config of a voice's base: "embedded", a .gguf file, a folder or an id."""
    from transformers import AutoConfig

    path = embedded_model_path() if base == "embedded" else Path(base).expanduser()
    chatglm = chatglm_base(base)
    if chatglm is not None:  # THUDM's remote-code GLM-4, trained in transformers' GLM layout
        return glm_config(chatglm[1])
    try:
        if path.suffix == ".gguf":
            return AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        return AutoConfig.from_pretrained(base)
    except (OSError, ValueError) as error:
        raise UserError(
            key="error.model_load", name=base, problem=str(error).split("\n")[0]
        ) from None


def read_adapter(folder: Path) -> tuple[dict, list[LoraWeights]]:
    """adapter_config.json and the adapter's weight pairs, in the order peft saved them."""
    from safetensors.numpy import load_file

    config_path, weights_path = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not (config_path.is_file() and weights_path.is_file()):
        raise UserError(key="error.lora_adapter_missing", path=folder)
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("use_dora") or config.get("use_rslora"):
        raise UserError(key="error.lora_kind", path=folder)
    tensors = load_file(str(weights_path))
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for name, array in tensors.items():
        for part in ("lora_A", "lora_B"):
            if f".{part}." in name:
                base = name.removeprefix(_PEFT_PREFIX).replace(f".{part}.weight", ".weight")
                pairs.setdefault(base, {})[part] = array.astype(np.float32)
                break
        else:
            raise UserError(key="error.lora_stray", tensor=name)
    weights = [LoraWeights(base, p["lora_A"], p["lora_B"]) for base, p in pairs.items()]
    return config, weights


def write_lora_gguf(
    adapter_dir: Path,
    base: str,
    path: Path,
    float_type: str = "F16",
    base_gguf: Path | None = None,
) -> Path:
    """Write adapter_dir (a peft LoRA folder) for the base `base` as a GGUF adapter at path, in
    the tensor layout of base_gguf (the GGUF it will be loaded on) when one is given."""
    config, weights = read_adapter(adapter_dir)
    model_config = base_config(base)
    arch = architecture_for(model_config.model_type)
    fused = base_gguf is not None and fuses_qkv(base_gguf)
    pairs = adapter_pairs(arch, model_config, weights, fused)
    kind = ADAPTER_TYPES[float_type]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    writer = gguf.GGUFWriter(partial, gguf.MODEL_ARCH_NAMES[arch.gguf_arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    # not read by llama.cpp: they let the studio refuse an adapter made for another base
    writer.add_block_count(model_config.num_hidden_layers)
    writer.add_embedding_length(model_config.hidden_size)
    writer.add_name(adapter_dir.resolve().parent.name)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, Path(base).name)
    dtype = np.float16 if kind == gguf.GGMLQuantizationType.F16 else np.float32
    for name, lora_a, lora_b in pairs:
        for suffix, array in (("lora_a", lora_a), ("lora_b", lora_b)):
            writer.add_tensor(f"{name}.{suffix}", np.ascontiguousarray(array, dtype=dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, path)  # never a half-written adapter under the final name
    return path


def fuses_qkv(base_gguf: Path) -> bool:
    """Whether a base GGUF holds its query, key and value as one `attn_qkv` weight a block."""
    try:
        tensors = gguf.GGUFReader(base_gguf).tensors
    except (OSError, ValueError) as error:
        raise UserError(key="error.gguf_unreadable", path=base_gguf, problem=error) from None
    return any(tensor.name.endswith(".attn_qkv.weight") for tensor in tensors)


def adapter_pairs(
    arch, model_config, weights: list[LoraWeights], fused: bool
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(GGUF weight name, lora_a, lora_b) of each adapted weight; with fused, one pair a block
    for its query, key and value."""
    names = tensor_names(arch, model_config, [w.base_name for w in weights])
    pairs, attention = [], {}
    for weight in weights:
        name = names[weight.base_name]
        lora_b = to_gguf_layout(arch, model_config, weight.base_name, weight.b)
        block = re.fullmatch(r"blk\.(\d+)\.attn_([qkv])\.weight", name)
        if fused and block:
            attention.setdefault(int(block[1]), {})[block[2]] = (weight.a, lora_b)
        else:
            pairs.append((name, weight.a, lora_b))
    qkv = gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ATTN_QKV]
    for number, parts in attention.items():
        pairs.append((f"{qkv.format(bid=number)}.weight", *fused_pair(model_config, parts)))
    return pairs


def fused_pair(model_config, parts: dict[str, tuple[np.ndarray, np.ndarray]]):
    """lora_a and lora_b of a fused query/key/value weight from its parts' (A, B) by kind ("q",
    "k", "v"); a part the LoRA left out adds nothing (its rows of B stay zero)."""
    dim = head_dim(model_config)
    kv_heads = model_config.num_key_value_heads or model_config.num_attention_heads
    rows = {"q": model_config.num_attention_heads * dim, "k": kv_heads * dim, "v": kv_heads * dim}
    rank = sum(a.shape[0] for a, _ in parts.values())
    lora_a = np.concatenate([parts[kind][0] for kind in rows if kind in parts])
    lora_b = np.zeros((sum(rows.values()), rank), dtype=np.float32)
    row = column = 0
    for kind, count in rows.items():
        if kind in parts:
            a, b = parts[kind]
            # llama.cpp divides by `rank`, peft by this part's own rank
            lora_b[row : row + count, column : column + a.shape[0]] = b * (rank / a.shape[0])
            column += a.shape[0]
        row += count
    return lora_a, lora_b


def adapter_threshold(base: str, base_gguf: Path) -> Threshold:
    """What base GGUF + adapter must reach against peft's merged model. A voice trained on this
    very file (dequantized) shares its weights with the merged model: ADAPTER_THRESHOLD. A
    voice trained on the checkpoint the file was quantized from (QLoRA) also meets the file's
    own quantization error: the looser of that quantization's threshold (Q4_K_M's for a type
    without one) and ADAPTER_THRESHOLD."""
    trained_on = base_gguf_path(base)
    if trained_on is not None and trained_on.resolve() == base_gguf.resolve():
        return ADAPTER_THRESHOLD
    from engine.models.discovery import read_model_info

    own = THRESHOLDS.get(read_model_info(base_gguf).quantization, THRESHOLDS["Q4_K_M"])
    return Threshold(
        min(own.min_agreement, ADAPTER_THRESHOLD.min_agreement),
        max(own.max_kl, ADAPTER_THRESHOLD.max_kl),
    )


def check_adapter(
    adapter: Path,
    base_gguf: Path,
    ref: Reference,
    float_type: str,
    threshold: Threshold = ADAPTER_THRESHOLD,
) -> CheckResult:
    """Load the base GGUF with the adapter in llama.cpp and compare its next-token predictions
    on the probe with those of peft's merged model (`ref`), against `threshold`."""
    from llama_cpp import Llama

    try:
        llm = Llama(
            model_path=str(base_gguf),
            lora_path=str(adapter),
            n_ctx=len(ref.tokens) + 16,
            n_batch=len(ref.tokens),
            n_ubatch=len(ref.tokens),
            logits_all=True,
            n_threads=os.cpu_count(),
            verbose=False,
        )
    except (ValueError, RuntimeError) as error:
        raise UserError(key="error.exported_broken", quant=float_type, problem=error) from None
    try:
        llm.eval(ref.tokens)
        logits = np.array(llm.scores[: len(ref.tokens)], dtype=np.float32)
    finally:
        llm.close()
    # the base GGUF's own vocabulary: nothing of it changes
    return compared(float_type, logits, ref, True, threshold)


def base_gguf_path(base: str) -> Path | None:
    """The GGUF file a voice's base loads from in the studio, when the base is one."""
    if base == "embedded":
        return embedded_model_path()
    path = Path(base).expanduser()
    return path if path.suffix == ".gguf" and path.is_file() else None
