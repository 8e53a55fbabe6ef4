"""A GLM-4 base in THUDM's remote-code layout (model type 'chatglm', as LongWriter-glm4-9b is
published) as a folder transformers loads without remote code: its own `glm` layout.

Training loads models with `from_pretrained`, which cannot read the remote-code layout without
running the checkpoint's code (never done here). So the folder is converted once, into its
child `transformers-glm/`: config.json translated by `gguf.chatglm.glm_config`, the weights
renamed and the fused query/key/value split tensor by tensor into safetensors shards of at most
SHARD_BYTES (never the whole model in memory), and the tiktoken tokenizer rebuilt with its chat
template. The conversion is written under a `.partial` name and renamed when complete, so a
killed one is redone, never mistaken for a finished folder. A hub id (THUDM/LongWriter-glm4-9b)
is downloaded into the hub cache first and converted inside its snapshot folder.
"""

import json
import os
import shutil
import sys
from pathlib import Path

from engine.errors import UserError
from training.hub_checkpoint import download_checkpoint, is_hub_id

CONVERTED = "transformers-glm"
SHARD_BYTES = 2 * 1024**3


def chatglm_config(folder: Path) -> dict | None:
    """The config.json of a remote-code GLM-4 folder, None for any other name or folder."""
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # left for from_pretrained to report
    return config if config.get("model_type") == "chatglm" else None


def chatglm_base(name: str) -> tuple[Path, dict] | None:
    """Where a remote-code GLM-4 base named by a folder or a hub id is (for a hub id, the
    snapshot folder holding at least its config.json) and its config.json; None for any other
    base, or a hub id that cannot be looked up (from_pretrained then says why)."""
    folder = Path(name).expanduser()
    if not is_hub_id(name) or folder.suffix == ".gguf":
        config = chatglm_config(folder)
        return (folder, config) if config else None
    from huggingface_hub import hf_hub_download

    from engine.models.downloads import hub_endpoint

    try:
        snapshot = Path(hf_hub_download(name, "config.json", endpoint=hub_endpoint())).parent
    except (OSError, ValueError):  # not a repo, or the hub is unreachable
        return None
    config = chatglm_config(snapshot)
    return (snapshot, config) if config else None


def trainable_base(name: str) -> str:
    """name itself, or for a remote-code GLM-4 folder or hub id its converted `glm` folder
    (downloaded and converted on first use, reused after)."""
    found = chatglm_base(name)
    if found is None:
        return name
    folder, chatglm = found
    target = folder / CONVERTED
    if target.is_dir():
        return str(target)
    if not Path(name).expanduser().is_dir():
        folder = download_checkpoint(name, ("tokenizer_config.json", "tokenizer.model"))
        target = folder / CONVERTED
    print(
        f"{name} is GLM-4 in THUDM's remote-code layout: converting it once to "
        f"transformers' GLM layout in {target}",
        file=sys.stderr,
        flush=True,
    )
    convert(folder, chatglm, target)
    return str(target)


def convert(folder: Path, chatglm: dict, target: Path) -> Path:
    """Write the remote-code checkpoint in folder as a transformers `glm` checkpoint at target."""
    from training.gguf.chatglm import ChatglmSource, glm_config
    from training.gguf.tiktoken_bpe import load_tiktoken_tokenizer

    config = glm_config(chatglm)
    config.architectures = ["GlmForCausalLM"]
    config.dtype = chatglm.get("torch_dtype") or chatglm.get("dtype") or "float32"
    tokenizer = load_tiktoken_tokenizer(folder)  # a bad tokenizer refuses before any writing
    source = ChatglmSource(folder, config)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # what a killed conversion left
    try:
        partial.mkdir()
        config.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        _write_shards(source, partial)
    except OSError as error:
        raise UserError(
            key="error.chatglm_convert", path=target, problem=error.strerror or error
        ) from None
    os.replace(partial, target)
    return target


def _write_shards(source, folder: Path) -> None:
    """source's tensors in safetensors shards of at most SHARD_BYTES, with their index."""
    from safetensors.torch import save_file

    groups: list[list[str]] = [[]]
    size = 0
    for name in sorted(source.shapes):
        nbytes = _nbytes(source, name)
        if groups[-1] and size + nbytes > SHARD_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += nbytes
    weight_map = {}
    for number, names in enumerate(groups, 1):
        shard = f"model-{number:05d}-of-{len(groups):05d}.safetensors"
        tensors = {name: source.get(name).contiguous() for name in names}
        save_file(tensors, str(folder / shard), metadata={"format": "pt"})
        del tensors
        weight_map.update(dict.fromkeys(names, shard))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def _nbytes(source, name: str) -> int:
    """Bytes of one converted tensor, in the dtype its remote-code tensor was saved in."""
    import math

    from training.gguf.streamed import SAFETENSORS_DTYPES

    dtype = SAFETENSORS_DTYPES[source.raw.where[source.origin[name][0]][2]]
    return math.prod(source.shapes[name]) * dtype.itemsize
