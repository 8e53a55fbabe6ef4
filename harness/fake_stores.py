"""A model store another tool would have left in a HOME: an Ollama manifest whose model layer
names a blob, for tests and benches that need a GGUF found on disk (copy the embedded GGUF as
the blob, and it really loads)."""

import hashlib
import json
import shutil
from pathlib import Path

OLLAMA_REGISTRY = "registry.ollama.ai"


def ollama_model(home: Path, name: str, tag: str, gguf: Path) -> Path:
    """Copy `gguf` into HOME/.ollama/models as Ollama stores `name:tag`; return the blob."""
    root = home / ".ollama" / "models"
    digest = "sha256:" + hashlib.sha256(f"{name}:{tag}:{gguf}".encode()).hexdigest()
    blob = root / "blobs" / digest.replace(":", "-")
    blob.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(gguf, blob)
    layers = [
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": 1},
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:00", "size": 1},
    ]
    manifest = root / "manifests" / OLLAMA_REGISTRY / "library" / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}), encoding="utf-8")
    return blob
