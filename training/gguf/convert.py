"""Write a checkpoint as an F32, F16 or BF16 GGUF file, one tensor at a time."""

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
from tqdm import tqdm

from training.gguf.architectures import add_hyperparameters, extra_tensors, tensor_names
from training.gguf.architectures import to_gguf_layout as layout
from training.gguf.checkpoint import Checkpoint
from training.gguf.streamed import release_freed_memory
from training.gguf.vocab import Vocab

FLOAT_TYPES = {
    "F32": (gguf.LlamaFileType.ALL_F32, gguf.GGMLQuantizationType.F32),
    "F16": (gguf.LlamaFileType.MOSTLY_F16, gguf.GGMLQuantizationType.F16),
    "BF16": (gguf.LlamaFileType.MOSTLY_BF16, gguf.GGMLQuantizationType.BF16),
}


@dataclass(frozen=True)
class Description:
    """The general.* keys: what the model is called, where it came from, how it was made."""

    name: str
    base_model: str | None
    training_run: str
    steps: int | None

    def add_to(self, writer: gguf.GGUFWriter) -> None:
        writer.add_type("model")
        writer.add_name(self.name)
        writer.add_finetune(self.training_run)
        if self.base_model:
            writer.add_base_model_count(1)
            writer.add_base_model_name(0, self.base_model)
        steps = f" for {self.steps} steps" if self.steps else ""
        base = f" from {self.base_model}" if self.base_model else ""
        writer.add_description(f"Training run {self.training_run!r}{base}{steps}.")
        writer.add_quantized_by("longwrite studio")


def write_float_gguf(
    checkpoint: Checkpoint, vocab: Vocab, description: Description, float_type: str, path: Path
) -> None:
    """Write the model to path with 2-D weights as float_type and norms/biases as F32, reading
    one tensor at a time from the checkpoint in its saved dtype."""
    config, arch, tensors = checkpoint.model.config, checkpoint.architecture, checkpoint.tensors
    file_type, weight_type = FLOAT_TYPES[float_type]
    names = tensor_names(arch, config, list(tensors.shapes))
    extras = extra_tensors(config)
    n_vocab = checkpoint.n_vocab

    writer = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[arch.gguf_arch])
    add_hyperparameters(writer, config, n_vocab)
    writer.add_file_type(file_type)
    description.add_to(writer)
    vocab.add_to(writer)

    stored_types = {}
    for hf_name, name in names.items():
        shape = tuple(tensors.shapes[hf_name])
        kind = weight_type if len(shape) > 1 else gguf.GGMLQuantizationType.F32
        stored_types[hf_name] = kind
        writer.add_tensor_info(name, shape, np.float32, _nbytes(shape, kind), raw_dtype=kind)
    for name, tensor in extras.items():
        writer.add_tensor_info(name, tensor.shape, np.float32, tensor.nbytes)

    writer.write_header_to_file(path)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    bar = tqdm(names.items(), desc=f"Writing {float_type}", unit="tensor", leave=False)
    for hf_name, _ in bar:
        writer.write_tensor_data(
            _tensor_data(tensors, arch, config, hf_name, stored_types[hf_name])
        )
        release_freed_memory()  # one tensor in memory at a time
    for tensor in extras.values():
        writer.write_tensor_data(tensor)
    writer.close()


CHUNK_BYTES = 16 * 2**20  # float32 rows converted at once


def _tensor_data(tensors, arch, config, hf_name: str, kind) -> np.ndarray:
    """One tensor as it goes into the file. Large ones are read and encoded in chunks of rows,
    so a tensor is never held in float32 whole: memory is about the encoded tensor alone."""
    shape = tensors.shapes[hf_name]
    if len(shape) < 2 or _needs_layout(arch, hf_name):
        array = layout(arch, config, hf_name, tensors.get(hf_name).detach().float().numpy())
        return _encode(array, kind)
    step = max(1, CHUNK_BYTES // (4 * int(np.prod(shape[1:]))))
    out = None
    for start in range(0, shape[0], step):
        rows = tensors.rows(hf_name, start, min(shape[0], start + step))
        encoded = _encode(rows.detach().float().numpy(), kind)
        if out is None:
            out = np.empty((shape[0], *encoded.shape[1:]), dtype=encoded.dtype)
        out[start : start + len(encoded)] = encoded
    return out


def _needs_layout(arch, hf_name: str) -> bool:
    """Rope-rotated rows that llama.cpp wants reordered: converted whole (they are small)."""
    return arch.interleave_rotary and ("q_proj." in hf_name or "k_proj." in hf_name)


def _nbytes(shape: tuple[int, ...], kind: gguf.GGMLQuantizationType) -> int:
    return int(np.prod(shape)) * (4 if kind == gguf.GGMLQuantizationType.F32 else 2)


def _encode(array: np.ndarray, kind: gguf.GGMLQuantizationType) -> np.ndarray:
    if kind == gguf.GGMLQuantizationType.F32:
        return np.ascontiguousarray(array, dtype=np.float32)
    if kind == gguf.GGMLQuantizationType.F16:
        return np.ascontiguousarray(array, dtype=np.float16)
    return gguf.quants.quantize(np.ascontiguousarray(array, dtype=np.float32), kind)
