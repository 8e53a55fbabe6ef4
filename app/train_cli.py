"""`longwrite data …` (AgentWrite data, preparation, preference pairs) and `longwrite train …`
(SFT, DPO). Torch and TRL are imported only inside the commands that need them."""

import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from app.options import gather, judge_options, model_options, stack_options, threads_option
from engine.errors import UserError
from engine.models.backends import open_backend
from training.prepare import PrepareOptions


def progress_bar(total: int, unit: str):
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)


@click.group()
def data() -> None:
    """Build and prepare training data: AgentWrite outputs, SFT rows, preference pairs."""


@data.command()
@click.option(
    "--instructions",
    required=True,
    type=click.Path(path_type=Path),
    help='JSONL of {"instruction", "words"} or a text file, one instruction a line.',
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help='Output JSONL of {"messages": [...]} (the LongWriter-6k format).',
)
@model_options
@threads_option
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Instructions written at once (servers only).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted build from its cache.")
@click.option(
    "--min-length-ratio",
    default=0.8,
    show_default=True,
    type=float,
    help="Drop outputs shorter than this share of the required length.",
)
@click.option(
    "--max-sections",
    default=20,
    show_default=True,
    type=int,
    help="Drop outputs whose plan has more sections than this.",
)
@click.option("--seed", default=0, show_default=True, type=int)
def agentwrite(
    instructions,
    out,
    load,
    concurrency,
    resume,
    min_length_ratio,
    max_sections,
    seed,
):
    """Plan and write every instruction with AgentWrite; keep the good outputs as SFT data."""
    from training.agentwrite import Filters, build, cache_folder_for
    from training.records import read_tasks, write_jsonl

    if concurrency > 1 and not load.base_url:
        raise UserError(key="error.concurrency_needs_server")
    tasks = read_tasks(instructions)
    cache = cache_folder_for(out, resume)
    bar = progress_bar(len(tasks), "instruction")
    report = build(
        tasks,
        lambda: open_backend(load),
        cache,
        concurrency,
        Filters(min_length_ratio=min_length_ratio, max_sections=max_sections),
        seed,
        progress=lambda: bar.update(1),
    )
    bar.close()
    write_jsonl(out, report.kept)
    write_jsonl(out.with_name(out.name + ".rejected.jsonl"), report.rejected)
    click.echo(f"{report.summary()} Written to {out}.", err=True)


@data.command()
@click.option(
    "--long",
    "long_file",
    required=True,
    type=click.Path(path_type=Path),
    help='Long-output conversations (JSONL of {"messages": [...]}).',
)
@click.option(
    "--general",
    "general_file",
    type=click.Path(path_type=Path),
    help="General SFT conversations to mix in.",
)
@click.option(
    "--long-share",
    default=1.0,
    show_default=True,
    type=float,
    help="Share of long-output rows in the mix (general rows fill the rest).",
)
@click.option(
    "--tokenizer",
    required=True,
    help="The model's tokenizer: a Hugging Face id or folder, a .gguf, or 'embedded'.",
)
@click.option(
    "--max-length",
    default=32_768,
    show_default=True,
    type=click.IntRange(16),
    help="Longest row in tokens: the pack length.",
)
@click.option(
    "--overlong",
    type=click.Choice(["split", "drop"]),
    default="split",
    show_default=True,
    help="What to do with rows longer than --max-length.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (dataset, stats.json, lengths.png).",
)
@click.option(
    "--eval-fraction",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Share of conversations held out as the eval split (SFT then reports eval loss).",
)
@click.option(
    "--workers",
    default=os.cpu_count() or 1,
    show_default="all cores",
    type=click.IntRange(1),
    help="Processes that tokenize at once.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@gather("options", PrepareOptions)
def prepare(long_file, general_file, tokenizer, out, options: PrepareOptions):
    """Validate, mix, tokenize with the chat template and label assistant tokens for SFT."""
    from training.models import load_tokenizer
    from training.prepare import prepare as prepare_rows
    from training.records import Conversation, read_jsonl

    long_rows = read_jsonl(long_file, Conversation)
    general_rows = read_jsonl(general_file, Conversation) if general_file else []
    report = prepare_rows(load_tokenizer(tokenizer), long_rows, general_rows, out, options)
    click.echo(f"{report.summary()} Written to {out}.", err=True)


@data.command()
@click.option(
    "--instructions",
    required=True,
    type=click.Path(path_type=Path),
    help="Writing instructions (JSONL or text), each with its required length.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output JSONL of preference pairs (TRL's conversational format).",
)
@click.option(
    "-k",
    "--samples",
    "k",
    default=4,
    show_default=True,
    type=click.IntRange(2, 64),
    help="Replies sampled per instruction.",
)
@model_options
@threads_option
@click.option(
    "--checkpoint",
    type=click.Path(path_type=str),
    help="Sample from a Hugging Face checkpoint folder (e.g. the SFT output).",
)
@judge_options
@click.option(
    "--max-tokens",
    default=4096,
    show_default=True,
    type=click.IntRange(16),
    help="Longest reply sampled.",
)
@click.option("--seed", default=0, show_default=True, type=int)
def preferences(
    instructions,
    out,
    k,
    load,
    checkpoint,
    judge,
    max_tokens,
    seed,
):
    """Sample k replies per instruction, score them, and pair the best with a random other."""
    from training.preferences import build_pairs
    from training.records import read_tasks, write_jsonl

    tasks = read_tasks(instructions)
    judging = None
    if judge.gguf or judge.base_url:
        from training.eval.judge import Judge

        judging = Judge.from_options(judge.base_url, judge.model_name, judge.gguf, load)
    else:
        click.echo("No judge given: replies are ranked by length score alone.", err=True)
    if checkpoint:
        from training.hf_backend import TransformersBackend

        backend = TransformersBackend(checkpoint)
    else:
        backend = open_backend(load)
    bar = progress_bar(len(tasks), "instruction")
    try:
        pairs, scores = build_pairs(
            tasks, backend, k, judging, seed, max_tokens, progress=lambda: bar.update(1)
        )
    finally:
        bar.close()
        backend.close()
    if not pairs:
        raise UserError(key="error.no_preference_pairs")
    write_jsonl(out, pairs)
    write_jsonl(out.with_name(out.name + ".scores.jsonl"), scores)
    click.echo(f"{len(pairs)} pairs from {len(tasks)} instructions written to {out}.", err=True)


@click.group()
def train() -> None:
    """Fine-tune models: SFT on prepared data, then DPO on preference pairs."""


recipe_options = stack_options(
    [
        click.argument("recipe", type=click.Path(path_type=Path)),
        click.option(
            "--resume",
            "resume_flag",
            is_flag=True,
            help="Continue from the newest checkpoint (the same as --resume-from-checkpoint auto).",
        ),
        click.option(
            "--resume-from-checkpoint",
            "resume_from",
            metavar="DIR|auto",
            help="Continue from this checkpoint folder, or 'auto': the newest in output_dir.",
        ),
        click.option(
            "--deepspeed",
            type=click.Path(path_type=str),
            help="A DeepSpeed config JSON (e.g. training/recipes/gpu/zero3.json).",
        ),
        click.option(
            "--fsdp",
            "fsdp_config",
            type=click.Path(path_type=str),
            help="Shard parameters, gradients and optimizer state with FSDP full_shard, with "
            "this fsdp_config JSON (e.g. training/recipes/cpu/fsdp.json under torchrun).",
        ),
    ]
)


def launch_settings(deepspeed: str | None, fsdp_config: str | None) -> dict:
    """Trainer settings the launch options put over the recipe's."""
    if deepspeed and fsdp_config:
        raise UserError(key="error.deepspeed_or_fsdp")
    if deepspeed:
        return {"deepspeed": deepspeed}
    if fsdp_config:
        return {"fsdp": "full_shard auto_wrap", "fsdp_config": fsdp_config}
    return {}


def resume_setting(resume_flag: bool, resume_from: str | None) -> str | None:
    """None (a fresh run), a checkpoint folder, or "auto" (the newest checkpoint)."""
    return resume_from or ("auto" if resume_flag else None)


@train.command()
@recipe_options
def sft(recipe, resume_flag, resume_from, deepspeed, fsdp_config):
    """Supervised fine-tuning with packing (TRL SFTTrainer) from a YAML recipe."""
    from training.recipe import SFTRecipe, load_recipe
    from training.sft import run_sft

    loaded = load_recipe(recipe, SFTRecipe, launch_settings(deepspeed, fsdp_config))
    folder = run_sft(loaded, resume_setting(resume_flag, resume_from))
    click.echo(f"SFT done; checkpoint in {folder}.", err=True)


@train.command()
@recipe_options
def dpo(recipe, resume_flag, resume_from, deepspeed, fsdp_config):
    """Preference optimisation (TRL DPOTrainer) from a YAML recipe."""
    from training.dpo import run_dpo
    from training.recipe import DPORecipe, load_recipe

    loaded = load_recipe(recipe, DPORecipe, launch_settings(deepspeed, fsdp_config))
    folder = run_dpo(loaded, resume_setting(resume_flag, resume_from))
    click.echo(f"DPO done; checkpoint in {folder}.", err=True)


@train.command()
@click.argument("folder", type=click.Path(path_type=Path))
def status(folder):
    """Where a run stands, from its metrics.jsonl: last step, losses, tokens/s and ETA."""
    from training.run_status import read_status

    click.echo(read_status(folder).summary())
