"""`longwrite export gguf`: a trained checkpoint becomes checked GGUF files the studio loads."""

from pathlib import Path

import click

from engine.errors import UserError


@click.command("gguf")
@click.argument("checkpoint")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Models folder to write to (default: the studio's models folder).",
)
@click.option(
    "--quant",
    "quants",
    default="q4_k_m",
    show_default=True,
    help="Comma-separated: f32, f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m.",
)
@click.option("--name", help="Model name shown in the studio (default: the checkpoint folder's).")
@click.option(
    "--check-long",
    is_flag=True,
    help="Also compare predictions beyond 4,096 tokens, in windows up to --long-length "
    "(catches rope errors a short probe cannot).",
)
@click.option(
    "--long-length",
    type=click.IntRange(4097),
    help="Tokens of the long check (default: the model's context, at most 8,192 without a GPU).",
)
def export_gguf(
    checkpoint: str,
    out_dir: Path | None,
    quants: str,
    name: str | None,
    check_long: bool,
    long_length: int | None,
):
    """Convert a Hugging Face checkpoint (or LoRA adapter) to GGUF, checking every file.
    CHECKPOINT is a folder, or a hub id (owner/model), downloaded first without its code.

    Each file is loaded in llama.cpp and compared with the float32 model on a 256-token probe
    (next-token top-1 agreement and mean KL), and with --check-long also in windows beyond
    4,096 tokens; a file below its thresholds is not kept.
    """
    from engine.models.discovery import default_models_dir
    from training.gguf.export import export_gguf as run_export
    from training.gguf.export import parse_quants
    from training.hub_checkpoint import download_checkpoint, is_hub_id

    wanted = parse_quants(quants)
    checkpoint_dir = Path(checkpoint)
    if is_hub_id(checkpoint):  # named after the model, not the snapshot's commit
        checkpoint_dir, name = download_checkpoint(checkpoint), name or checkpoint.split("/")[1]
    out_dir = out_dir or default_models_dir()
    results = run_export(checkpoint_dir, out_dir, wanted, name, check_long, long_length)
    for exported in results:
        where = exported.path if exported.path else "NOT KEPT"
        click.echo(
            f"{exported.quant:<7} {exported.check.summary()}, {exported.seconds:.1f} s → {where}"
        )
        if exported.long_check:
            click.echo(f"{'':<7} beyond 4,096 tokens: {exported.long_check.summary()}")
    failed = [exported for exported in results if exported.path is None]
    if failed:
        names = ", ".join(exported.quant for exported in failed)
        raise UserError(key="error.quants_failed", names=names)
