"""A voice: a LoRA adapter in llama.cpp's GGUF adapter format, applied on top of a base GGUF.

Before llama.cpp sees an adapter it is read here (the GGUF header and tensor table, without the
`gguf` package, which belongs to the training extra) and refused in one line when it is
damaged or was trained for another base: llama.cpp itself would stop the process or fail with
a bare "failed to initialize" for both.

The voice is part of LoadSettings (voice_path, voice_scale): it applies to the main model a
command or the studio loads, and a project saves it; a judge's settings leave it out.
"""

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import UserError


@dataclass(frozen=True)
class GgufSummary:
    """What a GGUF file says about itself: its metadata and each tensor's shape (ggml order)."""

    metadata: dict[str, object]
    tensors: dict[str, tuple[int, ...]]

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def number(self, key: str) -> int | None:
        value = self.metadata.get(f"{self.architecture}.{key}")
        return int(value) if isinstance(value, int | float) else None


# --- reading a GGUF header ------------------------------------------------------------------
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q"}
_SCALARS |= {11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# bytes per block and elements per block of the tensor types an adapter is written in
_TYPE_SIZES = {0: (4, 1), 1: (2, 1), 30: (2, 1), 8: (34, 32)}
_MAX_ITEMS = 1 << 24  # no GGUF holds more keys, tensors or array items than this


class _Damaged(Exception):
    pass


def _read(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise _Damaged("the file ends early")
    return data


def _unpack(handle: BinaryIO, fmt: str):
    return struct.unpack(fmt, _read(handle, struct.calcsize(fmt)))[0]


def _string(handle: BinaryIO) -> str:
    length = _unpack(handle, "<Q")
    if length > _MAX_ITEMS:
        raise _Damaged("a string is impossibly long")
    return _read(handle, length).decode("utf-8", "replace")


def _value(handle: BinaryIO, kind: int, keep: bool = True):
    if kind in _SCALARS:
        return _unpack(handle, _SCALARS[kind])
    if kind == _STRING:
        return _string(handle)
    if kind == _ARRAY:
        item_kind, count = _unpack(handle, "<I"), _unpack(handle, "<Q")
        if count > _MAX_ITEMS:
            raise _Damaged("an array is impossibly long")
        if item_kind in _SCALARS and not keep:  # skip a vocabulary's scores in one read
            _read(handle, count * struct.calcsize(_SCALARS[item_kind]))
            return None
        items = [_value(handle, item_kind, keep) for _ in range(count)]
        return items if keep else None
    raise _Damaged(f"unknown value type {kind}")


def read_gguf(path: str | Path, check_size: bool = True) -> GgufSummary:
    """The metadata (arrays left out) and tensor shapes of a GGUF file; a `_Damaged` error when
    the header is cut short or nonsensical, or (with check_size) the tensor data is missing."""
    path = Path(path)
    with path.open("rb") as handle:
        if _read(handle, 4) != b"GGUF":
            raise _Damaged("it does not start with the GGUF magic")
        version = _unpack(handle, "<I")
        if version not in (2, 3):
            raise _Damaged(f"unknown GGUF version {version}")
        n_tensors, n_keys = _unpack(handle, "<Q"), _unpack(handle, "<Q")
        if n_tensors > _MAX_ITEMS or n_keys > _MAX_ITEMS:
            raise _Damaged("the header counts are impossible")
        metadata = {}
        for _ in range(n_keys):
            key = _string(handle)
            kind = _unpack(handle, "<I")
            metadata[key] = _value(handle, kind, keep=kind != _ARRAY)
        tensors, data_end = {}, 0
        for _ in range(n_tensors):
            name = _string(handle)
            dims = _unpack(handle, "<I")
            if dims > 4:
                raise _Damaged(f"tensor {name} has {dims} dimensions")
            shape = tuple(_unpack(handle, "<Q") for _ in range(dims))
            kind, offset = _unpack(handle, "<I"), _unpack(handle, "<Q")
            tensors[name] = shape
            if kind in _TYPE_SIZES:
                block_bytes, block = _TYPE_SIZES[kind]
                elements = 1
                for dim in shape:
                    elements *= dim
                data_end = max(data_end, offset + elements // block * block_bytes)
        alignment = int(metadata.get("general.alignment", 32) or 32)
        start = -(-handle.tell() // alignment) * alignment
    if check_size and start + data_end > path.stat().st_size:
        raise _Damaged("its tensor data is cut short")
    return GgufSummary(metadata, tensors)


# --- checking an adapter against a base -----------------------------------------------------
_BLOCK = re.compile(r"^blk\.(\d+)\.")


def adapter_shape(adapter: GgufSummary) -> tuple[int | None, int | None]:
    """(layer count, hidden size) the adapter was made for: its own keys when it wrote them
    (ours do), else read off its tensors (llama.cpp's converter writes no hyperparameters)."""
    layers, hidden = adapter.number("block_count"), adapter.number("embedding_length")
    if layers is None:
        blocks = [int(m[1]) for name in adapter.tensors if (m := _BLOCK.match(name))]
        layers = max(blocks) + 1 if blocks else None
    if hidden is None:
        for name, shape in adapter.tensors.items():
            if name.endswith(("attn_q.weight.lora_a", "ffn_up.weight.lora_a")):
                hidden = shape[0]  # lora_a is (rank × input) in rows, so ne[0] is the input
                break
    return layers, hidden


def is_adapter(path: Path) -> bool:
    """Whether a GGUF file says it is an adapter (general.type), read from its first keys only:
    the general.* keys come before a model's long vocabulary arrays."""
    try:
        with path.open("rb") as handle:
            if _read(handle, 4) != b"GGUF" or _unpack(handle, "<I") not in (2, 3):
                return False
            _read(handle, 8)  # the tensor count
            for _ in range(min(_unpack(handle, "<Q"), _MAX_ITEMS)):
                key, kind = _string(handle), _unpack(handle, "<I")
                if kind == _ARRAY:
                    return False
                value = _value(handle, kind)
                if key == "general.type":
                    return value == "adapter"
    except (_Damaged, OSError):
        return False
    return False


def check_voice(voice_path: str | Path, base_path: str | Path) -> GgufSummary:
    """Refuse an adapter that is missing, damaged, not a LoRA adapter, or made for another base
    (architecture, layer count or hidden size differ); returns its summary."""
    return fit_voice(voice_path, base_path, read_gguf(base_path, check_size=False))


def voices_for(models_dir: Path, base_path: str | Path) -> list[Path]:
    """The LoRA adapters in a models folder that fit the base, by name (others left out)."""
    if not models_dir.is_dir():
        return []
    base = read_gguf(base_path, check_size=False)
    found = []
    for path in sorted(p for p in models_dir.glob("*.gguf") if p.is_file() and is_adapter(p)):
        try:
            fit_voice(path, base_path, base)
        except UserError:
            continue
        found.append(path)
    return found


def fit_voice(voice_path: str | Path, base_path: str | Path, base: GgufSummary) -> GgufSummary:
    """check_voice against a base already read (`base`, the summary of base_path)."""
    voice_path, base_path = Path(voice_path), Path(base_path)
    if not voice_path.is_file():
        raise UserError(key="error.voice_missing", path=voice_path)
    try:
        adapter = read_gguf(voice_path)
    except (_Damaged, OSError) as error:
        raise UserError(key="error.voice_damaged", path=voice_path, problem=str(error)) from None
    kind = (adapter.metadata.get("general.type"), adapter.metadata.get("adapter.type"))
    if kind != ("adapter", "lora"):
        raise UserError(key="error.voice_not_adapter", path=voice_path)
    layers, hidden = adapter_shape(adapter)
    base_layers, base_hidden = base.number("block_count"), base.number("embedding_length")
    fits = adapter.architecture == base.architecture
    fits = fits and (layers is None or base_layers is None or layers <= base_layers)
    fits = fits and (hidden is None or base_hidden is None or hidden == base_hidden)
    fits = fits and (adapter.number("block_count") in (None, base_layers))
    if not fits:
        raise UserError(
            key="error.voice_other_base",
            path=voice_path.name,
            voice=f"{adapter.architecture}, {layers} layers, hidden size {hidden}",
            base=f"{base.architecture}, {base_layers} layers, hidden size {base_hidden}",
            model=base_path.name,
        )
    return adapter
