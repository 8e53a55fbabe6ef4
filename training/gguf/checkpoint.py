"""Open a Hugging Face checkpoint for export: full weights are streamed tensor by tensor from
their safetensors shards (`streamed`); a peft LoRA adapter is merged into its base in memory."""

import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from training.gguf.architectures import Architecture, architecture_for
from training.gguf.chatglm import load_chatglm_model
from training.gguf.streamed import SafetensorsSource, StateDictSource, StreamedModel, shard_files
from training.gguf.tiktoken_bpe import load_tiktoken_tokenizer


@dataclass
class Checkpoint:
    """A loaded model with its tokenizer and what the GGUF's general.* keys say about it."""

    model: object  # a StreamedModel, or a torch model (a merged adapter, a .bin checkpoint)
    tensors: object  # name → shape and tensor, read one at a time (streamed.*Source)
    tokenizer: object
    architecture: Architecture
    base_model: str | None
    training_run: str
    steps: int | None
    saved_dtype: str  # the precision the checkpoint was saved in, e.g. "bfloat16"

    @property
    def n_vocab(self) -> int:
        """Rows of the input embedding (may exceed the tokenizer's vocabulary)."""
        return self.model.get_input_embeddings().weight.shape[0]


def load_checkpoint(folder: Path) -> Checkpoint:
    """The checkpoint's model, its tensors and its tokenizer. Weights stay on disk until they
    are used, except for a LoRA adapter (merged into its base in float32) and a checkpoint
    without safetensors files (loaded whole)."""
    adapter = _read_json(folder / "adapter_config.json")
    base_path = adapter.get("base_model_name_or_path") if adapter else None
    if adapter and not (base_path and Path(base_path).is_dir()):
        raise UserError(key="error.adapter_base", path=folder, base=base_path)
    config_folder = Path(base_path) if adapter else folder
    if not (config_folder / "config.json").is_file():
        raise UserError(key="error.no_config", path=config_folder)
    config = _read_json(config_folder / "config.json")
    architecture = architecture_for(config.get("model_type"))
    if config.get("model_type") == "chatglm":  # THUDM's remote-code layout: no code of it runs
        if adapter:
            raise UserError(key="error.chatglm_adapter", path=folder)
        model, tokenizer = load_chatglm_model(folder, config), load_tiktoken_tokenizer(folder)
    elif not adapter and shard_files(folder):
        model, tokenizer = _streamed_transformers(folder), _load_tokenizer(folder, folder)
    else:
        model, tokenizer = _load_transformers(folder, adapter, config_folder)
        model.eval()
    tensors = (
        model.source if isinstance(model, StreamedModel) else StateDictSource(model.state_dict())
    )
    trainer_state = _read_json(folder / "trainer_state.json")
    base_model = base_path or config.get("_name_or_path") or config.get("_model_name_or_path")
    return Checkpoint(
        model=model,
        tensors=tensors,
        tokenizer=tokenizer,
        architecture=architecture,
        base_model=Path(base_model).name if base_model else None,
        training_run=folder.resolve().name,
        steps=trainer_state.get("global_step") if trainer_state else None,
        saved_dtype=str(config.get("dtype") or config.get("torch_dtype") or "float32"),
    )


def _streamed_transformers(folder: Path) -> StreamedModel:
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    try:
        config = AutoConfig.from_pretrained(folder)
        model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    except (OSError, ValueError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise UserError(key="error.checkpoint_load", path=folder, problem=first_line) from None
    return StreamedModel(model_class, config, SafetensorsSource(folder))


def _load_tokenizer(folder: Path, config_folder: Path):
    from transformers import AutoTokenizer

    tokenizer_folder = folder if (folder / "tokenizer.json").is_file() else config_folder
    try:
        return AutoTokenizer.from_pretrained(tokenizer_folder)
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise UserError(key="error.checkpoint_load", path=folder, problem=first_line) from None


def _load_transformers(folder: Path, adapter: dict | None, config_folder: Path):
    """A checkpoint in a layout transformers knows (an adapter merged) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer_folder = folder if (folder / "tokenizer.json").is_file() else config_folder
    try:
        if adapter:
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
            model = model.merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise UserError(key="error.checkpoint_load", path=folder, problem=first_line) from None
    return model, tokenizer


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(key="error.checkpoint_file", path=path, problem=error) from None
