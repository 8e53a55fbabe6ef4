"""`longwrite voice data|train` and `longwrite export gguf-lora`: a voice from the writer's own
manuscripts, exported as a GGUF adapter the studio writes with (`--voice`)."""

import dataclasses
import sys
from pathlib import Path

import click
from tqdm import tqdm

from app.options import gather, model_options, threads_option
from engine.errors import UserError
from training.voice.train import VoiceSettings


@click.group()
def voice() -> None:
    """Train a voice (a LoRA adapter) on your own manuscripts."""


@voice.command("data")
@click.option(
    "--from",
    "sources",
    multiple=True,
    required=True,
    help="A manuscript (.md, .txt, .docx) or a project's name; repeat for more.",
)
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path))
@click.option("--db", type=click.Path(path_type=str), help="Project database for project names.")
@click.option(
    "--preferences",
    is_flag=True,
    help="Also export the writer's accepted rewrites and hand edits in these projects as "
    "preference pairs (preferences.jsonl), for `voice train --dpo`.",
)
@model_options
@threads_option
def data_command(sources, out, db, preferences, load):
    """Back-translate manuscripts into the studio's own writing requests, with your sections as
    the replies; the last sections of each piece are held out. A rerun resumes."""
    from engine.models.backends import open_backend
    from engine.store.database import Store
    from training.voice.data import build_voice_data, check_enough, pieces_of, read_sources

    store = Store(db) if db or any(not Path(s).suffix for s in sources) else None
    found = read_sources(sources, store)
    check_enough([piece for name, sections in found for piece in pieces_of(name, sections)])
    # the model that back-translates writes in its own voice, never a voice given with it
    backend = open_backend(load.model_copy(update={"voice_path": None}))
    bar = tqdm(unit="section", file=sys.stderr, dynamic_ncols=True)

    def progress(total: int) -> None:
        if total:
            bar.total = total
            bar.refresh()
        else:
            bar.update(1)

    try:
        result = build_voice_data(backend, found, out, progress)
    finally:
        bar.close()
    click.echo(f"{result.summary()} Written to {out}.", err=True)
    if preferences:
        from training.voice.preferences import export_preferences

        pairs = export_preferences(store or Store(db), sources, backend, out)
        click.echo(f"{pairs} preference pairs written to {out / 'preferences.jsonl'}.", err=True)
    backend.close()


@voice.command("train")
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option(
    "--base",
    default="embedded",
    show_default=True,
    help="The model the voice is for: 'embedded', a .gguf file you write with (loaded "
    "dequantized), or a Hugging Face id or folder.",
)
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path))
@click.option("--steps", default=60, show_default=True, type=click.IntRange(1))
@click.option("--rank", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--learning-rate", default=3.0e-4, show_default=True, type=float)
@click.option("--save-steps", default=10, show_default=True, type=click.IntRange(1))
@click.option(
    "--dpo",
    is_flag=True,
    help="Then a DPO step on the LoRA from DATA_DIR/preferences.jsonl (at least 20 pairs).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--cpu/--gpu", "use_cpu", default=True, help="Train on the CPU (default) or the GPU.")
@click.option(
    "--qlora",
    is_flag=True,
    help="QLoRA on a CUDA GPU: the base loaded in 4 bits (bitsandbytes), bf16; for 8B/9B bases "
    "(training/recipes/gpu/voice_qlora.sh). --base is their checkpoint, or a catalogue GGUF "
    "(its checkpoint is trained). Prints the GPU memory it will need.",
)
@gather("settings", VoiceSettings)
def train_command(data_dir, out, dpo, settings: VoiceSettings):
    """LoRA SFT of the base on the voice data, printing the held-out loss before and after; a
    rerun on the same output folder resumes from its last checkpoint."""
    from training.voice.train import MIN_DPO_PAIRS, train_voice

    if settings.qlora:
        settings = dataclasses.replace(settings, use_cpu=False)

    preferences = None
    if dpo:
        preferences = data_dir / "preferences.jsonl"
        if not preferences.is_file():
            raise UserError(key="error.voice_no_preferences", path=data_dir)
    report = train_voice(
        data_dir, out, settings, preferences, lambda line: click.echo(line, err=True)
    )
    if dpo and not report.dpo_pairs:
        click.echo(f"Fewer than {MIN_DPO_PAIRS} preference pairs: no DPO step.", err=True)
    # a QLoRA voice of a GGUF trained on its checkpoint: the adapter is checked on that file
    on_file = f" --base-gguf {settings.base}" if report.base != settings.base else ""
    click.echo(
        f"{report.summary()} Voice in {out}; export it with "
        f"`longwrite export gguf-lora {out} -o voice.gguf{on_file}`.",
        err=True,
    )


@click.command("gguf-lora")
@click.argument("voice_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
@click.option(
    "--base", help="The base the adapter was trained on (default: the one voice.json names)."
)
@click.option(
    "--base-gguf",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The base as the GGUF file you write with (default: the base, when it is a GGUF): "
    "the adapter follows its tensor layout (GLM-4's fused attn_qkv) and is checked on it in "
    "llama.cpp.",
)
@click.option("--type", "float_type", type=click.Choice(["f16", "f32"]), default="f16")
@click.option("--no-check", is_flag=True, help="Skip comparing llama.cpp with the merged model.")
def export_gguf_lora(voice_dir, output, base, base_gguf, float_type, no_check):
    """Write a trained voice (its LoRA adapter) as a GGUF adapter for llama.cpp, then load the
    base with it in llama.cpp and compare its predictions with the merged model's."""
    from training.gguf.lora_adapter import adapter_threshold, base_gguf_path, write_lora_gguf

    adapter = voice_dir / "adapter" if (voice_dir / "adapter").is_dir() else voice_dir
    if base is None:
        from training.voice.train import read_voice

        base = read_voice(voice_dir)["base"]
    base_gguf = base_gguf or base_gguf_path(base)
    path = write_lora_gguf(adapter, base, output, float_type.upper(), base_gguf)
    click.echo(f"Adapter written to {path}.", err=True)
    if no_check or base_gguf is None or not (voice_dir / "final").is_dir():
        click.echo("Not checked (no base GGUF or merged model to compare with).", err=True)
        return
    threshold = adapter_threshold(base, base_gguf)
    result = check_export(path, base_gguf, voice_dir / "final", float_type.upper(), threshold)
    click.echo(f"{float_type}: {result.summary()}", err=True)
    if not result.passed:
        path.unlink()
        raise UserError(key="error.quants_failed", names=float_type)


def check_export(adapter: Path, base_gguf: Path, merged: Path, float_type: str, threshold):
    """llama.cpp's base + adapter against the merged HF model on the GGUF check's probe."""
    from training.gguf.check import reference
    from training.gguf.lora_adapter import check_adapter
    from training.models import load_model, load_tokenizer

    tokenizer = load_tokenizer(str(merged))
    ref = reference(load_model(str(merged), "float32"), tokenizer)
    return check_adapter(adapter, base_gguf, ref, float_type, threshold)
