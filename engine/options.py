"""The command-line options that choose a model or a judge, the same in every `longwrite` command.

The command line lives in app and training; these options live here because both use them and
training may not import app.
"""

from collections.abc import Callable

import click


def stack_options(options: list[Callable]) -> Callable:
    """One decorator applying click options (or other such decorators) in the order listed."""

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


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
            help="Context window in tokens (default: the model's, at most 16,384).",
        ),
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
