"""Training recipes: YAML files a trainer edits, validated with pydantic.

A recipe names the model, the data and the output folder; its `trainer` mapping goes straight
to TRL's SFTConfig or DPOConfig over the paper's defaults, so every TRL / transformers
training argument (deepspeed, gradient accumulation, save steps, …) can be set there.
"""

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.errors import UserError


class TinyModel(BaseModel):
    """A randomly initialised model over the tokenizer's vocabulary (for CPU miniatures)."""

    model_config = ConfigDict(extra="forbid")
    hidden_size: int = Field(64, ge=8)
    layers: int = Field(2, ge=1)
    heads: int = Field(4, ge=1)


class ModelSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str  # a Hugging Face id or folder, a .gguf file, or "embedded"
    tokenizer: str | None = None  # defaults to the model's own
    tiny: TinyModel | None = None
    dtype: str = "auto"
    attn_implementation: str = "sdpa"  # flash_attention_2 on GPUs with flash-attn installed


class LoraSection(BaseModel):
    """LoRA adapters (peft); with quantize_4bit, QLoRA (needs bitsandbytes and a GPU)."""

    model_config = ConfigDict(extra="forbid")
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"
    quantize_4bit: bool = False


def check_template_rows(model: "ModelSection", lora: LoraSection | None) -> None:
    """LoRA keeps the embeddings and lm_head frozen, so a base trained with another model's
    chat template never trains that template's rows: Llama-3.1-8B's header and <|eot_id|> rows
    are untrained, and such a model may never learn to stop. (Training those rows as peft
    trainable tokens does not work with TRL's fused LM head, and training the whole matrices
    costs ~12 GB more: more than a 24 GB QLoRA budget has.)"""
    borrowed = model.tokenizer is not None and model.tokenizer != model.name
    if lora is not None and borrowed:
        raise ValueError(
            f"LoRA on {model.name} with the chat template of {model.tokenizer} leaves the "
            "template's special-token rows untrained (embeddings and lm_head are frozen); "
            "use the model that template belongs to as the base, or full fine-tuning"
        )


class SFTRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: ModelSection
    data: str  # a folder written by `longwrite data prepare`
    output_dir: str
    pack_length: int = Field(32_768, ge=16)
    packing: bool = True
    # per_token: every target token of the global batch weighs the same (ours); released: THUDM's
    # released LongWriter loss, each pack's mean token loss × its sequences / 30
    loss: Literal["per_token", "released"] = "per_token"
    lora: LoraSection | None = None
    trainer: dict[str, Any] = {}

    @model_validator(mode="after")
    def _template_rows(self):
        check_template_rows(self.model, self.lora)
        return self


class DPORecipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: ModelSection
    data: str  # preference pairs JSONL from `longwrite data preferences`
    general_data: str | None = None  # general preference pairs to mix in
    general_share: float = Field(0.0, ge=0.0, lt=1.0)
    # DPO loss plus this weight times the SFT loss on the chosen replies (TRL's loss_type
    # [sigmoid, sft]); keeps the long replies likely while preferences are learned
    sft_weight: float | None = Field(None, gt=0.0)
    output_dir: str
    lora: LoraSection | None = None
    trainer: dict[str, Any] = {}

    @model_validator(mode="after")
    def _template_rows(self):
        check_template_rows(self.model, self.lora)
        return self


Recipe = TypeVar("Recipe", SFTRecipe, DPORecipe)


def load_recipe(
    path: str | Path, kind: type[Recipe], trainer: dict[str, Any] | None = None
) -> Recipe:
    """Read a YAML recipe (with $VARIABLES from the environment filled in), put `trainer`
    settings from the command line over its own, and validate it."""
    import yaml

    path = Path(path)
    try:
        text = os.path.expandvars(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(key="error.recipe_missing", path=path) from None
    unset = re.search(r"\$\{?(\w+)", text)
    if unset:
        raise UserError(key="error.recipe_env", path=path, variable=unset[1])
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise UserError(
            key="error.recipe_yaml", path=path, problem=str(error).split("\n")[0]
        ) from None
    if not isinstance(raw, dict):
        raise UserError(key="error.recipe_mapping", path=path)
    raw["trainer"] = {**(raw.get("trainer") or {}), **(trainer or {})}
    try:
        return kind.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserError(
            key="error.recipe_invalid", path=path, where=where, problem=first["msg"]
        ) from None
