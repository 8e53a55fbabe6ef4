"""Direct preference optimisation with TRL's DPOTrainer on conversational preference pairs,
optionally mixed with general preference data."""

import random
from pathlib import Path

from training.cpu_fsdp import enable_fsdp_on_cpu
from training.metrics_log import MetricsLog
from training.models import build_model, check_attention, load_tokenizer
from training.recipe import DPORecipe
from training.records import PreferencePair, read_jsonl
from training.saving import save_final
from training.sft import RUN_DEFAULTS, peft_config, train, trainer_config

# Our defaults, not the paper's: no source at hand confirms LongWriter's DPO settings, so
# these are β 0.1 (TRL's own default) and a small learning rate for a model already
# fine-tuned, with the SFT stage's schedule. Tune them per run.
DPO_DEFAULTS = {
    "learning_rate": 1e-6,
    "beta": 0.1,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.03,
    "num_train_epochs": 1,
    "bf16": True,
    "activation_checkpointing": True,
    "per_device_train_batch_size": 1,
    "logging_steps": 1,
    **RUN_DEFAULTS,
    "save_steps": 100,  # a DPO step holds 2 sequences per pair and a reference pass
}


def preference_rows(recipe: DPORecipe, seed: int = 0) -> list[dict]:
    """The long-output pairs plus general pairs making up `general_share` of the mix."""
    rows = [pair.model_dump() for pair in read_jsonl(recipe.data, PreferencePair)]
    if recipe.general_data and recipe.general_share > 0:
        general = [pair.model_dump() for pair in read_jsonl(recipe.general_data, PreferencePair)]
        rng = random.Random(seed)
        wanted = round(len(rows) * recipe.general_share / (1 - recipe.general_share))
        rows += rng.sample(general, min(wanted, len(general)))
        rng.shuffle(rows)
    return rows


def dpo_config(recipe: DPORecipe):
    """TRL's DPOConfig for a recipe: the paper's DPO defaults under the recipe's settings."""
    from trl import DPOConfig

    losses = {}
    if recipe.sft_weight is not None:
        losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, recipe.sft_weight]}
    return trainer_config(
        DPOConfig, DPO_DEFAULTS, recipe.trainer, output_dir=recipe.output_dir, **losses
    )


def reference_model(recipe: DPORecipe, tokenizer, seed: int):
    """The frozen reference model, loaded exactly like the policy: same precision, attention
    and loader (a GGUF, "embedded", a tiny model). Left to TRL, the reference is reloaded from
    the policy's config path, which fails for a GGUF or tiny policy and, with other TRL
    versions, comes up in float32 with default attention: at 32k tokens that does not fit next
    to a bf16 FlashAttention policy. None for LoRA: the policy with its adapter disabled is
    the reference."""
    if recipe.lora is not None:
        return None
    return build_model(recipe.model, tokenizer, None, seed).requires_grad_(False).eval()


def dpo_trainer(recipe: DPORecipe):
    """The DPOTrainer of a recipe, with its policy, reference and data loaded."""
    from datasets import Dataset
    from trl import DPOTrainer

    check_attention(recipe.model.attn_implementation)  # before any weights or data load
    tokenizer = load_tokenizer(recipe.model.tokenizer or recipe.model.name)
    output_dir = Path(recipe.output_dir)
    args = dpo_config(recipe)
    if args.fsdp:
        enable_fsdp_on_cpu()
    dataset = Dataset.from_list(preference_rows(recipe, args.seed))
    model = build_model(recipe.model, tokenizer, recipe.lora, args.seed)
    return DPOTrainer(
        model=model,
        ref_model=reference_model(recipe, tokenizer, args.seed),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(recipe.lora),
        callbacks=[MetricsLog(output_dir)],
    )


def run_dpo(recipe: DPORecipe, resume: str | None = None) -> Path:
    """Train (resume: a checkpoint folder, or "auto" for the newest in the output folder);
    returns the folder of the final checkpoint."""
    trainer = dpo_trainer(recipe)
    output_dir = Path(recipe.output_dir)
    train(trainer, resume, output_dir)
    return save_final(trainer, trainer.processing_class, output_dir, recipe.model, recipe.lora)
