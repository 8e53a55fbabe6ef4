"""The command-line options that choose a model or a judge, the same in every `longwrite` command.

Every click command lives in app, the training ones too (app/train_cli.py, app/eval_cli.py,
app/gguf_cli.py, mounted lazily by app/cli.py), so these options stay out of the engine.
"""

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from click.core import ParameterSource

from engine.errors import UserError
from engine.models.settings import LoadSettings, parse_gpu_layers


def stack_options(options: list[Callable]) -> Callable:
    """One decorator applying click options (or other such decorators) in the order listed."""

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def gather(into: str, make: Callable[..., object], fields: dict[str, str] | None = None):
    """A decorator handing the command one typed `into` object, make(**values), in place of the
    options named in fields ({click parameter name: make's keyword}; default: make's dataclass
    fields, each option named like its field). Options the command lacks keep make's defaults,
    so one object serves commands with different subsets of its options."""
    names = fields or {field.name: field.name for field in dataclasses.fields(make)}

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_object(*args, **kwargs):
            values = {names[name]: kwargs.pop(name) for name in names if name in kwargs}
            kwargs[into] = make(**values)
            return command(*args, **kwargs)

        return with_object

    return decorate


# Each load option's click parameter name and the LoadSettings field it fills.
LOAD_FIELDS = {
    "model_path": "model_path",
    "base_url": "base_url",
    "model_name": "model_name",
    "n_ctx": "n_ctx",
    "gpu_layers": "gpu_layers",
    "kv_cache": "kv_cache",
    "flash_attn": "flash_attn",
    "voice_path": "voice_path",
    "voice_scale": "voice_scale",
    "threads": "n_threads",
}


def _parse_gpu_layers(_ctx: click.Context, _param: click.Parameter, value) -> int | None:
    try:
        return parse_gpu_layers(value)
    except UserError as error:
        raise click.BadParameter(str(error)) from None


def load_settings_from(ctx: click.Context, values: dict) -> LoadSettings:
    """The LoadSettings of the load options the user gave (on the command line or through an
    environment variable): options left at their defaults are not set, so the result's
    model_fields_set says what was chosen, and a resumed project keeps its saved rest."""
    given = {}
    for name, field in LOAD_FIELDS.items():
        source = ctx.get_parameter_source(name)
        if name in values and source not in (None, ParameterSource.DEFAULT):
            given[field] = values[name]
    if ctx.meta.get("longwrite.ollama"):  # --ollama filled the server pair in
        given.update(base_url=values["base_url"], model_name=values["model_name"])
    for path in ("model_path", "voice_path"):
        if given.get(path):
            given[path] = str(Path(given[path]).expanduser().resolve())
    return LoadSettings(**given)


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


def _ollama_option(name: str, help_text: str) -> Callable:
    return click.option(
        name,
        metavar="NAME",
        is_eager=True,
        expose_value=False,
        callback=_remember_ollama,
        help=help_text,
    )


def _collect_load_settings(command: Callable) -> Callable:
    """Hand the command one `load: LoadSettings` in place of the separate load options."""

    @functools.wraps(command)
    def with_load_settings(*args, **kwargs):
        values = {name: kwargs.pop(name) for name in LOAD_FIELDS if name in kwargs}
        kwargs["load"] = load_settings_from(click.get_current_context(), values)
        return command(*args, **kwargs)

    return with_load_settings


offload_options = stack_options(
    [
        click.option(
            "--gpu-layers",
            default="auto",
            envvar="LONGWRITE_GPU_LAYERS",
            show_envvar=True,
            callback=_parse_gpu_layers,
            help="Layers to offload to the GPU: a number (0 = CPU only) or auto: all that fit "
            "in free GPU memory, 0 on a CPU-only llama.cpp build.",
        ),
        click.option(
            "--kv-cache",
            type=click.Choice(["f16", "q8_0"]),
            default="f16",
            show_default=True,
            help="KV cache precision; q8_0 halves its memory (a 32k context of an 8B model: "
            "4 GB in f16) and turns on flash attention.",
        ),
        click.option(
            "--flash-attn/--no-flash-attn",
            default=None,
            help="Flash attention (default: on with a GPU or a q8_0 KV cache).",
        ),
    ]
)

voice_options = stack_options(
    [
        click.option(
            "--voice",
            "voice_path",
            type=click.Path(path_type=str),
            help="A voice (a LoRA adapter GGUF from `longwrite export gguf-lora`) to write with, "
            "on top of the GGUF model it was trained for.",
        ),
        click.option(
            "--voice-scale",
            type=click.FloatRange(0.0, 4.0),
            default=1.0,
            show_default=True,
            help="How strongly the voice applies (1 = as trained, 0 = not at all).",
        ),
    ]
)

# The command receives `load: LoadSettings` built from these (and --threads, where the command
# has threads_option) instead of one parameter per option.
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
        voice_options,
        _collect_load_settings,
    ]
)

# Goes with model_options, whose LoadSettings it fills (n_threads).
threads_option = click.option(
    "--threads",
    type=click.IntRange(1, 256),
    envvar="LONGWRITE_THREADS",
    help="llama.cpp threads for a local GGUF (default: LONGWRITE_THREADS, else all cores but one).",
)


@dataclass(frozen=True)
class JudgeChoice:
    """The judge the options chose: a local GGUF, or a model on an OpenAI-compatible server."""

    gguf: str | None = None
    base_url: str | None = None
    model_name: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.gguf or self.base_url or self.model_name)


# The command receives `judge: JudgeChoice`.
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
        gather(
            "judge",
            JudgeChoice,
            {"judge_gguf": "gguf", "judge_base_url": "base_url", "judge_model": "model_name"},
        ),
    ]
)
