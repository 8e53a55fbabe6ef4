"""A checkpoint read tensor by tensor from its safetensors shards, never whole in memory.

Export needs every weight once (to write it) and the float32 model's logits on a probe (to
check the file). Loading an 8B model in float32 for that takes ~32 GB of RAM, 38 GB for GLM-4-9B.
Here tensors are read one at a time in the dtype they were saved in, and the reference logits
come from the model's own forward pass run on a skeleton on the meta device whose blocks (the
embedding, each decoder layer, the final norm, the head) are filled with float32 weights from
the shards just before they run and emptied right after. Peak memory is about the largest
shard's pages plus one layer in float32, and the arithmetic is the float32 model's, so the
check's agreement figures are those of the whole-model path.
"""

import json
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserError


def shard_files(folder: Path) -> list[Path]:
    """The checkpoint's safetensors files (from its index when it has one)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [folder / name for name in sorted(set(weight_map.values()))]
    return sorted(folder.glob("*.safetensors"))


SAFETENSORS_DTYPES = {
    "BF16": torch.bfloat16,
    "F16": torch.float16,
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class SafetensorsSource:
    """Tensor names and shapes of a folder's shards; each tensor (or a run of its rows) read on
    demand from the file, in its saved dtype. The files are read, not mapped: a mapped file's
    touched pages count as the process's memory (and a row slice through the safetensors
    library reads far more than the rows)."""

    def __init__(self, folder: Path):
        self.where: dict[str, tuple[Path, int, str]] = {}  # path, data offset, dtype
        self.shapes: dict[str, tuple[int, ...]] = {}
        for path in shard_files(folder):
            with path.open("rb") as handle:
                length = int.from_bytes(handle.read(8), "little")
                header = json.loads(handle.read(length))
            for name, entry in header.items():
                if name == "__metadata__":
                    continue
                self.where[name] = (path, 8 + length + entry["data_offsets"][0], entry["dtype"])
                self.shapes[name] = tuple(entry["shape"])

    def get(self, name: str) -> torch.Tensor:
        shape = self.shapes[name]
        return self.rows(name, 0, shape[0] if shape else 1).reshape(shape)

    def rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows start:stop of a tensor, read without reading the rest of it."""
        path, offset, dtype = self.where[name]
        shape = self.shapes[name]
        torch_dtype = SAFETENSORS_DTYPES[dtype]
        row = (
            int(np.prod(shape[1:], dtype=np.int64))
            * torch.empty(0, dtype=torch_dtype).element_size()
        )
        with path.open("rb") as handle:
            handle.seek(offset + start * row)
            data = bytearray(handle.read((stop - start) * row))
        if not data:
            return torch.empty((0, *shape[1:]), dtype=torch_dtype)
        return torch.frombuffer(data, dtype=torch_dtype).reshape(stop - start, *shape[1:])


class StateDictSource:
    """The same interface over a model already in memory (a LoRA adapter merged into its base)."""

    def __init__(self, state: dict):
        self.state = state
        self.shapes = {name: tuple(tensor.shape) for name, tensor in state.items()}

    def get(self, name: str) -> torch.Tensor:
        return self.state[name]

    def rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        return self.state[name][start:stop]


CHUNK_BYTES = 16 * 2**20  # float32 rows of the embedding or the head handled at once


class StreamedModel:
    """A causal LM whose float32 forward pass loads one block of weights at a time."""

    def __init__(self, model_class, config, source):
        with torch.device("meta"):
            self.module = model_class._from_config(
                config, dtype=torch.float32, attn_implementation="sdpa"
            )
        self.module.eval()
        self.config = self.module.config
        self.source = source
        self.blocks = _blocks(self.module)

    def get_input_embeddings(self):
        return self.module.get_input_embeddings()  # on the meta device: shape only

    def run_float32(self, tokens: list[int], device: str = "cpu", logits_to_keep=None):
        """Next-token logits (float32, numpy) for `tokens`, only at `logits_to_keep` if given.

        The embedding is never loaded whole (the probe's rows are read), nor the head (its
        rows are read a chunk at a time): for a small model those two are its largest tensors.
        """
        self._computed_buffers(device)
        handles = []
        for prefix, block in self.blocks:
            handles.append(block.register_forward_pre_hook(self._loader(prefix, device)))
            handles.append(block.register_forward_hook(_emptier))
        try:
            with torch.no_grad():
                embeds = self._embedding_rows(tokens, device)
                hidden = self.module.base_model(inputs_embeds=embeds, use_cache=False)
                hidden = hidden.last_hidden_state[0]
                if logits_to_keep is not None:
                    hidden = hidden[logits_to_keep]
                return self._head(hidden).numpy()
        finally:
            for handle in handles:
                handle.remove()

    def _embedding_rows(self, tokens: list[int], device: str) -> torch.Tensor:
        name = _embedding_name(self.module)
        unique = sorted(set(tokens))
        rows = torch.stack([self.source.rows(name, t, t + 1)[0] for t in unique]).float()
        where = {token: i for i, token in enumerate(unique)}
        index = torch.tensor([where[t] for t in tokens])
        return rows[index].unsqueeze(0).to(device)

    def _head(self, hidden: torch.Tensor) -> torch.Tensor:
        name = self._key("lm_head.weight")
        vocab, width = self.source.shapes[name]
        step = max(1, CHUNK_BYTES // (4 * width))
        logits = torch.empty(hidden.shape[0], vocab, dtype=torch.float32)
        for start in range(0, vocab, step):
            weight = self.source.rows(name, start, min(vocab, start + step))
            part = hidden @ weight.to(hidden.device, torch.float32).T
            logits[:, start : start + part.shape[1]] = part.cpu()
        return logits

    def _loader(self, prefix: str, device: str):
        def load(block, _inputs):
            for name, _ in list(block.named_parameters()):
                owner, attr = _owner(block, name)
                tensor = self.source.get(self._key(prefix + name))
                owner._parameters[attr] = torch.nn.Parameter(
                    tensor.to(device=device, dtype=torch.float32), requires_grad=False
                )

        return load

    def _key(self, name: str) -> str:
        if name in self.source.shapes:
            return name
        if name == "lm_head.weight":  # a tied head: the embedding, saved once
            return _embedding_name(self.module)
        raise UserError(key="error.checkpoint_missing_tensor", tensor=name)

    def _computed_buffers(self, device: str) -> None:
        """Rebuild, on `device`, the modules whose buffers are computed rather than stored (the
        rotary frequencies), which the meta skeleton holds empty."""
        for name, module in list(self.module.named_modules()):
            meta = [b for b in module.buffers(recurse=False) if b.is_meta]
            if meta and not list(module.parameters(recurse=False)):
                parent, attr = _owner(self.module, name)
                setattr(parent, attr, type(module)(config=self.config).to(device))


def _emptier(block, _inputs, _output):
    for name, parameter in list(block.named_parameters()):
        owner, attr = _owner(block, name)
        owner._parameters[attr] = torch.nn.Parameter(
            torch.empty(parameter.shape, device="meta"), requires_grad=False
        )
    release_freed_memory()


def release_freed_memory() -> None:
    """Hand freed heap memory back to the system. glibc keeps freed blocks of a few MB (a
    layer's weights) in its heap, where they add up layer after layer (16 MB a layer for a
    1024-wide model) instead of being reused."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name and "libc" in name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def _owner(root, dotted: str):
    *path, attr = dotted.split(".")
    module = root
    for part in path:
        module = getattr(module, part)
    return module, attr


def _embedding_name(module) -> str:
    embedding = module.get_input_embeddings()
    return next(f"{n}.weight" for n, m in module.named_modules() if m is embedding)


def _blocks(module) -> list[tuple[str, torch.nn.Module]]:
    """(name prefix, module) of each unit of the backbone loaded at once: every decoder layer
    and every other child that holds parameters (the final norm). The embedding and the head
    are read in rows instead (StreamedModel.run_float32)."""
    prefix = module.base_model_prefix
    embedding, head = module.get_input_embeddings(), module.get_output_embeddings()
    found = []
    for name, child in module.base_model.named_children():
        if isinstance(child, torch.nn.ModuleList):
            found += [(f"{prefix}.{name}.{i}.", layer) for i, layer in enumerate(child)]
        elif child is not embedding and list(child.parameters()):
            found.append((f"{prefix}.{name}.", child))
    covered = {id(p) for _, block in found for p in block.parameters()}
    covered |= {id(p) for p in (*embedding.parameters(), *head.parameters())}
    stray = [n for n, p in module.named_parameters() if id(p) not in covered]
    if stray:
        raise UserError(key="error.stray_tensor", tensor=stray[0], arch=type(module).__name__)
    return found
