"""The `longwrite` command line."""

import click

from app.lazy_group import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy_commands={"train": "training.cli:train", "data": "training.cli:data"},
)
@click.version_option(package_name="longwrite-studio")
def cli() -> None:
    """Plan, edit and write long pieces with a local language model."""


@cli.group(cls=LazyGroup, lazy_commands={"gguf": "training.gguf.cli:export_gguf"})
def export() -> None:
    """Export a document, or a trained checkpoint as GGUF."""


def main() -> None:
    cli()
