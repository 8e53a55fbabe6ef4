"""How `longwrite models list` shows the GGUFs found in other tools' stores, and its JSON form."""

import json
from pathlib import Path

import click

from app.models_cli import _size
from engine.models.local_stores import FoundModel


def print_found(found: list[FoundModel]) -> None:
    """A second table: the models Ollama, LM Studio and the HF cache hold, each with its path."""
    if not found:
        click.echo("No GGUFs found in Ollama, LM Studio or the Hugging Face cache.")
        return
    click.echo("")
    click.echo("Already on this machine (used where they lie, never copied):")
    header = ("source", "name", "quant", "file", "memory", "context", "path")
    table = [header]
    for model in found:
        table.append(
            (
                model.source,
                model.name,
                model.quantization,
                _size(model.size_bytes),
                _size(model.memory_bytes),
                f"{model.default_context:,}",
                model.path,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
    click.echo('Write with one: longwrite write --model PATH "…" (an Ollama model also by its')
    click.echo('name, through the running Ollama: longwrite write --ollama NAME:TAG "…").')


def rows_json(folder: Path, rows: list, found: list[FoundModel]) -> str:
    """Every listed model as one JSON document: source, name, path, sizes, context, memory."""
    listed = [
        {
            "source": row.source,
            "name": row.name,
            "path": str(row.path) if row.path else None,
            "size_bytes": row.size_bytes,
            "quantization": row.quantization,
            "default_context": row.context_length,
            "memory_bytes": row.memory_bytes,
            "downloaded": row.downloaded,
            "catalogue_key": row.entry.key if row.entry else None,
        }
        for row in rows
    ]
    listed += [{**model.as_json(), "downloaded": True, "catalogue_key": None} for model in found]
    return json.dumps({"models_folder": str(folder), "models": listed}, indent=2)
