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


def _remember_ollama(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--ollama NAME stands for --base-url ollama+OLLAMA_HOST --model-name NAME (and
    --judge-ollama for the judge's pair). It is eager, so it runs before that pair, whose
    callback (_or_ollama) then fills them in."""
    if value:
        ctx.meta[f"longwrite.{param.name}"] = value


def _or_ollama(source: str) -> Callable:
    """The callback of a server URL or model name option that --`source` may stand for."""

    def fill(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        chosen = ctx.meta.get(f"longwrite.{source}")
        if not chosen:
            return value
        if value:
            raise click.BadParameter(str(UserError(key="error.ollama_or_url")))
        from engine.models.backends.ollama import ollama_base_url

        return ollama_base_url() if param.name.endswith("base_url") else chosen

    return fill


def _ollama_option(name: str, help: str) -> Callable:
    return click.option(
        name,
        metavar="NAME",
        is_eager=True,
        expose_value=False,
        callback=_remember_ollama,
        help=help,
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
            callback=_or_ollama("ollama"),
            help="An OpenAI-compatible server (vLLM, llama.cpp server), "
            "e.g. http://127.0.0.1:8000/v1.",
        ),
        click.option(
            "--model-name", callback=_or_ollama("ollama"), help="The model's name on that server."
        ),
        _ollama_option(
            "--ollama",
            "A model of the Ollama at OLLAMA_HOST (default http://127.0.0.1:11434), e.g. "
            "qwen2.5:7b; spoken to natively, its context set so no prompt is cut.",
        ),
        click.option(
            "--ctx",
            "n_ctx",
            type=click.IntRange(512, 1_048_576),
            help="Context window in tokens (default: the model's trained length, capped by "
            "free memory and at 32,768).",
        ),
        offload_options,
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
            callback=_or_ollama("judge_ollama"),
            help="Judge quality with a model on an OpenAI-compatible server (with --judge-model).",
        ),
        click.option(
            "--judge-model",
            callback=_or_ollama("judge_ollama"),
            help="The judge's name on that server.",
        ),
        _ollama_option("--judge-ollama", "Judge quality with a model of the Ollama at OLLAMA_HOST"),
    ]
)
