"""The final checkpoint of a training run, the same on one process or many.

Weights are saved through `trainer.save_model`, which gathers the shards of a DeepSpeed ZeRO-3
or FSDP run into one full state dict on the main process (`model.save_pretrained` on a sharded
run writes each rank's empty or partial parameters). A LoRA run keeps its adapter in
`adapter/` (with the tokenizer, and its base named by a local folder when there is one) and
gets `final/`: the adapter merged into a fresh full-precision copy of the base model, so a
QLoRA run also yields a plain checkpoint that export and DPO can load.
"""

import json
from pathlib import Path

from training.glm_base import CONVERTED, chatglm_config
from training.recipe import LoraSection, ModelSection


def save_final(trainer, tokenizer, output_dir: Path, model: ModelSection, lora: LoraSection | None):
    """Write output_dir/final (and output_dir/adapter for LoRA); returns the final folder."""
    final = output_dir / "final"
    if trainer.is_fsdp_enabled:
        # checkpoints are sharded (each rank writes and reloads its own shard); final/ is the
        # full model, gathered on the main process
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    if lora is None:
        trainer.save_model(str(final))  # also saves the tokenizer (the trainer's processing_class)
        return final
    adapter = output_dir / "adapter"
    trainer.save_model(str(adapter))
    if trainer.is_world_process_zero():
        point_adapter_at_local_base(adapter, model.name)
        merge_adapter(model, adapter, final, tokenizer, trainer.args.seed)
    trainer.accelerator.wait_for_everyone()
    return final


def merge_adapter(model: ModelSection, adapter: Path, final: Path, tokenizer, seed: int) -> None:
    """Merge the adapter into the base model loaded in its own precision (never 4-bit)."""
    from peft import PeftModel

    from training.models import build_model

    base = build_model(model, tokenizer, lora=None, seed=seed)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(final)
    tokenizer.save_pretrained(final)


def point_adapter_at_local_base(adapter: Path, base_name: str) -> None:
    """Name the base in adapter_config.json by an absolute local folder when one exists, so
    `longwrite export gguf ADAPTER` finds it without the hub."""
    folder = local_folder(base_name)
    if folder is None:
        return
    if chatglm_config(folder) is not None:  # a remote-code GLM-4 trained on its converted copy
        folder = folder / CONVERTED
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(folder)
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def local_folder(name: str) -> Path | None:
    """The local checkpoint folder of a model folder or a hub id already downloaded, else None."""
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        return path.resolve()
    if path.suffix == ".gguf" or name == "embedded":
        return None
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except (OSError, ValueError):  # not a hub id, or not downloaded: keep the name as it is
        return None
