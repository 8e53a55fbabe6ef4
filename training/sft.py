"""Supervised fine-tuning with TRL's SFTTrainer on prepared (tokenized, labelled) data.

Packing is TRL's best-fit-decreasing packing into `pack_length` tokens, padding-free: each pack
is one row whose position_ids restart at every sequence, so attention stays inside a sequence
(FlashAttention varlen on GPU; on CPU transformers builds the block-diagonal causal mask from
the position_ids). The loss of a step is the sum of per-token losses over every target token of
the global batch divided by the number of those tokens, counted across gradient accumulation and
devices (transformers' `num_items_in_batch` with `average_tokens_across_devices`).
"""

import dataclasses
from pathlib import Path

from engine.errors import UserError
from training.cpu_fsdp import enable_fsdp_on_cpu
from training.metrics_log import MetricsLog
from training.models import build_model, check_attention, load_tokenizer
from training.prepare import load_eval_split, load_prepared
from training.recipe import LoraSection, SFTRecipe
from training.saving import save_final

# LongWriter paper, section 4.1 (SFT on Llama-3.1-8B / GLM-4-9B)
PAPER_SFT = {
    "learning_rate": 1e-5,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.03,  # a fraction: 3 % of the steps
    "weight_decay": 0.1,
    "adam_beta1": 0.9,
    "adam_beta2": 0.95,
    "num_train_epochs": 4,
    "bf16": True,
    "activation_checkpointing": True,
    "per_device_train_batch_size": 1,
    "average_tokens_across_devices": True,
    "logging_steps": 1,
}
# Ours, not the paper's: what a run needs to survive a crash and to be watched.
RUN_DEFAULTS = {
    # THUDM's released training saves every 400 steps; an epoch-only save loses up to an epoch
    # of every GPU's work in a crash. The newest few are kept (each is a full optimizer state).
    "save_strategy": "steps",
    "save_steps": 400,
    "save_total_limit": 3,
    "report_to": "tensorboard",  # event files in output_dir/runs; report_to: wandb if you like
    "include_num_input_tokens_seen": True,  # tokens/s and ETA for `longwrite train status`
}
# With an eval split: held-out loss every eval_steps (ours), on as many packs as a train step.
EVAL_DEFAULTS = {"eval_strategy": "steps", "eval_steps": 200, "per_device_eval_batch_size": 1}


def peft_config(lora: LoraSection | None):
    if lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def trainer_config(config_class, defaults: dict, recipe_trainer: dict, **fixed):
    """A TRL config from the paper's defaults, the recipe's `trainer` mapping and fixed fields."""
    settings = {**defaults, **recipe_trainer, **fixed}
    names = {field.name for field in dataclasses.fields(config_class)}
    if "activation_checkpointing" in settings and "activation_checkpointing" not in names:
        # transformers before the pinned one (5.17 on the GPU image tried) calls it this
        settings["gradient_checkpointing"] = settings.pop("activation_checkpointing")
    try:
        return config_class(**settings)
    except (TypeError, ValueError) as error:
        raise UserError(key="error.trainer_settings", problem=str(error).split("\n")[0]) from None


def sft_config(recipe: SFTRecipe, longest: int, has_eval: bool = False):
    """TRL's SFTConfig for a recipe whose longest prepared row has `longest` tokens."""
    from trl import SFTConfig

    defaults = {**PAPER_SFT, **RUN_DEFAULTS, **(EVAL_DEFAULTS if has_eval else {})}
    return trainer_config(
        SFTConfig,
        defaults,
        recipe.trainer,
        output_dir=str(recipe.output_dir),
        max_length=recipe.pack_length if recipe.packing else longest,
        packing=recipe.packing,
        packing_strategy="bfd",
        padding_free=recipe.packing,
    )


def longest_row(dataset) -> int:
    """Tokens in the longest prepared row, read from the Arrow column's list lengths: no
    Python int per token (on 186k long conversations that took minutes and ~10 GB per rank)."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(dataset.data.column("input_ids"))
    return int(pc.max(lengths).as_py() or 0)


def sft_trainer(recipe: SFTRecipe):
    """The SFTTrainer of a recipe, with its model and prepared data (and eval split) loaded."""
    from trl import SFTTrainer

    check_attention(recipe.model.attn_implementation)  # before any weights or data load
    tokenizer = load_tokenizer(recipe.model.tokenizer or recipe.model.name)
    dataset, eval_dataset = load_prepared(recipe.data), load_eval_split(recipe.data)
    longest = longest_row(dataset)
    if recipe.packing and longest > recipe.pack_length:
        raise UserError(
            key="error.row_too_long", path=recipe.data, tokens=longest, pack=recipe.pack_length
        )
    args = sft_config(recipe, longest, has_eval=eval_dataset is not None)
    if args.fsdp:
        enable_fsdp_on_cpu()
    model = build_model(recipe.model, tokenizer, recipe.lora, args.seed)
    if recipe.loss == "released":
        if args.per_device_train_batch_size != 1 or not recipe.packing:
            raise UserError(key="error.released_loss_batch")
        from training.released_loss import ReleasedLossSFTTrainer as SFTTrainer
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        eval_dataset=eval_dataset if args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        peft_config=peft_config(recipe.lora),
        callbacks=[MetricsLog(recipe.output_dir)],
    )


def run_sft(recipe: SFTRecipe, resume: str | None = None) -> Path:
    """Train (resume: a checkpoint folder, or "auto" for the newest in the output folder);
    returns the folder of the final checkpoint."""
    trainer = sft_trainer(recipe)
    output_dir = Path(recipe.output_dir)
    train(trainer, resume, output_dir)
    return save_final(trainer, trainer.processing_class, output_dir, recipe.model, recipe.lora)


def train(trainer, resume: str | None, output_dir: Path) -> None:
    """trainer.train from the start, or from a checkpoint: `resume` names its folder, or is
    "auto" for the newest complete checkpoint-N in output_dir. The optimizer, scheduler,
    RNG states and the data position are restored, so the steps after it are the steps an
    uninterrupted run takes."""
    if resume is None:
        if any(output_dir.glob("checkpoint-*")):
            raise UserError(key="error.has_checkpoints", path=output_dir)
        trainer.train()
        return
    folder = newest_checkpoint(output_dir) if resume == "auto" else Path(resume)
    if folder is None or not (folder / "trainer_state.json").is_file():
        raise UserError(key="error.no_checkpoint", path=folder or output_dir)
    trainer.train(resume_from_checkpoint=str(folder))


def newest_checkpoint(output_dir: Path) -> Path | None:
    """The checkpoint-N folder with the highest N whose save finished (a save cut short by a
    crash has no trainer_state.json: the Trainer writes it last)."""
    complete = [
        folder
        for folder in output_dir.glob("checkpoint-*")
        if folder.name.removeprefix("checkpoint-").isdigit()
        and (folder / "trainer_state.json").is_file()
    ]
    return max(complete, key=lambda f: int(f.name.removeprefix("checkpoint-")), default=None)
