"""GGUFs other tools already keep on this machine: Ollama's blobs, LM Studio's folders, the
Hugging Face cache, and any folder the writer names. Each is listed where it lies (never copied)
with what the writer needs to choose: size, quantization, context length and memory.

Metadata is read with llama.cpp's vocab-only load (no weights). Ollama need not be running: its
manifests are JSON files whose model layer names a content-addressed blob.
"""

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from engine.errors import UserError
from engine.models.catalogue import default_context
from engine.models.discovery import ModelInfo, read_model_info
from engine.models.load_plan import needed_bytes

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_REGISTRY = "registry.ollama.ai"
# llama.cpp's gguf-split names its parts NAME-00001-of-00003.gguf
SPLIT_NAME = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)

Skip = Callable[[str], None]  # told one line for every file that is passed over


@dataclass(frozen=True)
class FoundModel:
    """One GGUF found on disk, as `models list` shows it."""

    source: str  # "ollama", "lm studio", "hf cache" or "folder"
    name: str
    path: str
    size_bytes: int
    quantization: str
    context_length: int  # the trained length, from the GGUF's metadata
    default_context: int  # what a load gets by default: the trained length, capped
    memory_bytes: int  # weights, KV cache and buffers at the default context
    n_layers: int = 0
    kv_elements_per_layer: int = 0

    def as_json(self) -> dict:
        return asdict(self)

    def info(self) -> ModelInfo:
        """Enough of the GGUF's metadata to plan its memory without reading it again."""
        return ModelInfo(
            name=self.name,
            context_length=self.context_length,
            quantization=self.quantization,
            architecture="",
            chat_template=None,
            path=self.path,
            file_bytes=self.size_bytes,
            n_layers=self.n_layers,
            kv_elements_per_layer=self.kv_elements_per_layer,
        )


def ollama_models_dir() -> Path:
    """OLLAMA_MODELS as Ollama reads it, else ~/.ollama/models."""
    configured = os.environ.get("OLLAMA_MODELS", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".ollama" / "models"


def lm_studio_dirs() -> list[Path]:
    """LM Studio's models folder, and the one older versions used."""
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def hf_cache_dir() -> Path:
    """HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub (huggingface_hub's order)."""
    if os.environ.get("HF_HUB_CACHE", "").strip():
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME", "").strip():
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def ollama_candidates(root: Path, skip: Skip) -> Iterator[tuple[str, Path]]:
    """(name:tag, blob path) for every readable manifest under root/manifests."""
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts
        if len(parts) != 4:  # host/namespace/name/tag
            continue
        blob = _ollama_blob(root, manifest, skip)
        if blob is not None:
            yield _ollama_name(*parts), blob


def _ollama_name(host: str, namespace: str, name: str, tag: str) -> str:
    """As `ollama list` writes it: library models bare, others with their namespace."""
    if host == OLLAMA_REGISTRY:
        return f"{name}:{tag}" if namespace == "library" else f"{namespace}/{name}:{tag}"
    return f"{host}/{namespace}/{name}:{tag}"


def _ollama_blob(root: Path, manifest: Path, skip: Skip) -> Path | None:
    try:
        layers = json.loads(manifest.read_text(encoding="utf-8"))["layers"]
        digest = next(
            layer["digest"] for layer in layers if layer["mediaType"] == OLLAMA_MODEL_LAYER
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, StopIteration):
        skip(f"skipped {manifest}: not a readable Ollama manifest with a model layer")
        return None
    return root / "blobs" / str(digest).replace(":", "-")


def folder_candidates(root: Path, label: Callable[[Path], str]) -> Iterator[tuple[str, Path]]:
    """(name, path) for every *.gguf below root, at any depth."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.gguf")):
        yield label(path), path


def hf_candidates(cache: Path) -> Iterator[tuple[str, Path]]:
    """(org/repo/file, path) for the GGUFs in each cached model's snapshots."""
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        repo_id = repo.name.removeprefix("models--").replace("--", "/")
        for path in sorted(repo.glob("snapshots/*/**/*.gguf")):
            inside = path.relative_to(repo / "snapshots").parts[1:]
            yield f"{repo_id}/{'/'.join(inside)}", path


def candidates(models_dirs: list[Path], skip: Skip) -> Iterator[tuple[str, str, Path]]:
    """(source, name, path) in every store this machine may hold."""
    for name, path in ollama_candidates(ollama_models_dir(), skip):
        yield "ollama", name, path
    for root in lm_studio_dirs():
        for name, path in folder_candidates(root, lambda p, r=root: str(p.relative_to(r))):
            yield "lm studio", name, path
    for name, path in hf_candidates(hf_cache_dir()):
        yield "hf cache", name, path
    for root in models_dirs:
        for name, path in folder_candidates(root, lambda p: p.name):
            yield "folder", name, path


def found_models(models_dirs: list[Path] = (), skip: Skip | None = None) -> list[FoundModel]:
    """Every single-file GGUF in the stores, each once per store (the HF cache links several
    snapshots to one blob), with its metadata; anything else is passed over with one line to
    `skip`."""
    skip = skip or (lambda _line: None)
    seen: set[tuple[str, Path]] = set()
    found = []
    for source, name, path in candidates(list(models_dirs), skip):
        key = (source, path.resolve())
        if key in seen:
            continue
        seen.add(key)
        model = describe(source, name, path, skip)
        if model is not None:
            found.append(model)
    return found


def describe(source: str, name: str, path: Path, skip: Skip) -> FoundModel | None:
    """The listing of one file, or None (told to `skip`) when it is no usable GGUF."""
    if SPLIT_NAME.search(path.name):
        skip(f"skipped {path}: one part of a split GGUF (merge it with llama-gguf-split)")
        return None
    try:
        info = _model_info(path)
    except UserError as error:
        skip(f"skipped {path}: {error}")
        return None
    return FoundModel(
        source=source,
        name=name,
        path=str(path),
        size_bytes=info.file_bytes,
        quantization=info.quantization,
        context_length=info.context_length,
        default_context=default_context(info),
        memory_bytes=needed_bytes(info, default_context(info)),
        n_layers=info.n_layers,
        kv_elements_per_layer=info.kv_elements_per_layer,
    )


def _model_info(path: Path) -> ModelInfo:
    """The GGUF's metadata, read once per version of the file: the studio lists the stores
    on every page load, and a vocab-only load of a large model takes a good part of a second."""
    try:
        stat = path.stat()
    except OSError:
        return read_model_info(path)  # which says in one line what is wrong with the path
    return _cached_info(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _cached_info(path: str, _size: int, _mtime_ns: int) -> ModelInfo:
    return read_model_info(Path(path))
