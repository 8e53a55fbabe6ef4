"""A checkpoint named by its Hugging Face hub id, downloaded when a command is given one: its
weights, config and tokenizer, never its code (nothing of a checkpoint's code runs here)."""

import json
import sys
from pathlib import Path

from engine.errors import UserError

CHECKPOINT_FILES = ["*.json", "*.safetensors", "tokenizer.model", "merges.txt", "*.jinja"]


def is_hub_id(name: str) -> bool:
    """Whether name reads as a hub id (owner/model) rather than a path on this machine."""
    path = Path(name).expanduser()
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and not path.exists()


def download_checkpoint(repo_id: str, needed: tuple[str, ...] = ()) -> Path:
    """The snapshot folder of repo_id in the hub cache, with its config, shards and tokenizer
    and the `needed` files; one line saying why where any of them did not arrive."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError

    from engine.models.downloads import hub_endpoint

    print(f"Downloading {repo_id} (weights, config, tokenizer)", file=sys.stderr, flush=True)
    try:
        folder = Path(
            snapshot_download(repo_id, allow_patterns=CHECKPOINT_FILES, endpoint=hub_endpoint())
        )
    except RepositoryNotFoundError:
        raise UserError(key="error.checkpoint_not_folder", path=repo_id) from None
    except (OSError, ValueError) as error:
        reason = str(error).split("\n")[0]
        raise UserError(
            key="error.checkpoint_download", repo=repo_id, hub=hub_endpoint(), reason=reason
        ) from None
    # unreachable, the hub client falls back to what the cache holds, which may be partial
    missing = [name for name in (*needed, *_weights(folder)) if not (folder / name).is_file()]
    if missing:
        raise UserError(
            key="error.checkpoint_download",
            repo=repo_id,
            hub=hub_endpoint(),
            reason=f"{missing[0]} did not arrive",
        )
    return folder


def _weights(folder: Path) -> list[str]:
    """config.json and the shards the index names (or at least one)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    else:
        shards = [path.name for path in folder.glob("*.safetensors")] or ["model.safetensors"]
    return ["config.json", *shards]
