"""Write a checkpoint as an F32, F16 or BF16 GGUF file, one tensor at a time."""

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
from tqdm import tqdm

from training.gguf.architectures import add_hyperparameters, extra_tensors, tensor_names
from training.gguf.architectures import to_gguf_layout as layout
from training.gguf.checkpoint import Checkpoint
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
    """Write the model to path with 2-D weights as float_type and norms/biases as F32."""
    model, config, arch = checkpoint.model, checkpoint.model.config, checkpoint.architecture
    file_type, weight_type = FLOAT_TYPES[float_type]
    state = model.state_dict()
    names = tensor_names(arch, config, list(state))
    extras = extra_tensors(config)
    n_vocab = model.get_input_embeddings().weight.shape[0]

    writer = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[arch.gguf_arch])
    add_hyperparameters(writer, config, n_vocab)
    writer.add_file_type(file_type)
    description.add_to(writer)
    vocab.add_to(writer)

    stored_types = {}
    for hf_name, name in names.items():
        shape = tuple(state[hf_name].shape)
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
        array = layout(arch, config, hf_name, state[hf_name].detach().float().numpy())
        writer.write_tensor_data(_encode(array, stored_types[hf_name]))
    for tensor in extras.values():
        writer.write_tensor_data(tensor)
    writer.close()


def _nbytes(shape: tuple[int, ...], kind: gguf.GGMLQuantizationType) -> int:
    return int(np.prod(shape)) * (4 if kind == gguf.GGMLQuantizationType.F32 else 2)


def _encode(array: np.ndarray, kind: gguf.GGMLQuantizationType) -> np.ndarray:
    if kind == gguf.GGMLQuantizationType.F32:
        return np.ascontiguousarray(array, dtype=np.float32)
    if kind == gguf.GGMLQuantizationType.F16:
        return np.ascontiguousarray(array, dtype=np.float16)
    return gguf.quants.quantize(np.ascontiguousarray(array, dtype=np.float32), kind)
