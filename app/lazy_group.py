"""A click group whose subcommands may live in modules imported only when used.

The training commands need torch; the studio and `longwrite write` must not. Naming them as
"module:attribute" strings keeps `longwrite --help` fast and the core install torch-free.
"""

import importlib

import click


class LazyGroup(click.Group):
    """click.Group with extra subcommands given as {"name": "package.module:attribute"}."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as error:
                raise click.ClickException(
                    f"`{cmd_name}` needs {error.name}, which is not installed: "
                    "pip install -e '.[train]' adds the training extra."
                ) from error
            return getattr(module, attribute)
        return super().get_command(ctx, cmd_name)
