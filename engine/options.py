"""The command-line options that choose a model or a judge, the same in every `longwrite` command.

The command line lives in app and training; these options live here because both use them and
training may not import app.
"""

from collections.abc import Callable

import click

from engine.errors import UserError
from engine.models import hardware


def stack_options(options: list[Callable]) -> Callable:
    """One decorator applying click options (or other such decorators) in the order listed."""

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _set_offload(ctx: click.Context, param: click.Parameter, value) -> None:
    """Gather the offload options and make them the process's settings for loading GGUFs."""
    chosen = ctx.meta.setdefault("longwrite.offload", {})
    if param.name == "gpu_layers":
        try:
            value = hardware.parse_gpu_layers(value)
        except UserError as error:
            raise click.BadParameter(str(error)) from None
    chosen[param.name] = value
    hardware.configure(
        hardware.OffloadSettings(**chosen), announce=lambda line: click.echo(line, err=True)
    )


offload_options = stack_options(
    [
        click.option(
            "--gpu-layers",
            default="auto",
            envvar="LONGWRITE_GPU_LAYERS",
            show_envvar=True,
            expose_value=False,
            callback=_set_offload,
            help="Layers to offload to the GPU: a number (0 = CPU only) or auto: all that fit "
            "in free GPU memory, 0 on a CPU-only llama.cpp build.",
        ),
        click.option(
            "--kv-cache",
            type=click.Choice(["f16", "q8_0"]),
            default="f16",
            show_default=True,
            expose_value=False,
            callback=_set_offload,
            help="KV cache precision; q8_0 halves its memory (a 32k context of an 8B model: "
            "4 GB in f16) and turns on flash attention.",
        ),
        click.option(
            "--flash-attn/--no-flash-attn",
            default=None,
            expose_value=False,
            callback=_set_offload,
            help="Flash attention (default: on with a GPU or a q8_0 KV cache).",
        ),
    ]
)


def _set_voice(ctx: click.Context, param: click.Parameter, value) -> None:
    """Gather --voice and --voice-scale into the voice every main-model load applies."""
    from pathlib import Path

    from engine.models import voice

    chosen = ctx.meta.setdefault("longwrite.voice", {})
    chosen[param.name] = value
    path, scale = chosen.get("voice_path"), chosen.get("voice_scale")
    voice.choose(voice.Voice(Path(path), 1.0 if scale is None else scale) if path else None)


voice_options = stack_options(
    [
        click.option(
            "--voice",
            "voice_path",
            type=click.Path(path_type=str),
            expose_value=False,
            callback=_set_voice,
            help="A voice (a LoRA adapter GGUF from `longwrite export gguf-lora`) to write with, "
            "on top of the GGUF model it was trained for.",
        ),
        click.option(
            "--voice-scale",
            type=click.FloatRange(0.0, 4.0),
            default=1.0,
            show_default=True,
            expose_value=False,
            callback=_set_voice,
            help="How strongly the voice applies (1 = as trained, 0 = not at all).",
        ),
    ]
)

model_options = stack_options(
    [
        click.option(
            "--model",
            "model_path",
            type=click.Path(path_type=str),
            help="A GGUF file (default: the embedded SmolLM2-135M-Instruct).",
        ),
        click.option(
            "--base-url",
            help="An OpenAI-compatible server (vLLM, llama.cpp server), "
            "e.g. http://127.0.0.1:8000/v1.",
        ),
        click.option("--model-name", help="The model's name on that server."),
        click.option(
            "--ctx",
            "n_ctx",
            type=click.IntRange(512, 1_048_576),
            help="Context window in tokens (default: the model's trained length, capped by "
            "free memory and at 32,768).",
        ),
        offload_options,
        voice_options,
    ]
)

threads_option = click.option(
    "--threads",
    type=click.IntRange(1, 256),
    envvar="LONGWRITE_THREADS",
    help="llama.cpp threads for a local GGUF (default: LONGWRITE_THREADS, else all cores but one).",
)

judge_options = stack_options(
    [
        click.option(
            "--judge-gguf", type=click.Path(path_type=str), help="Judge quality with a local GGUF."
        ),
        click.option(
            "--judge-base-url",
            help="Judge quality with a model on an OpenAI-compatible server (with --judge-model).",
        ),
        click.option("--judge-model", help="The judge's name on that server."),
    ]
)
