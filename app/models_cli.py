"""`longwrite models list|pull`: the models a writer can use, and opt-in downloads of more."""

import json
from pathlib import Path

import click

from engine.errors import UserError
from engine.models.local_stores import FoundModel

models_dir_option = click.option(
    "--models-dir",
    type=click.Path(path_type=Path),
    envvar="LONGWRITE_MODELS_DIR",
    show_envvar=True,
    help="Folder of GGUF models (default: in your user data directory).",
)


@click.group()
def models() -> None:
    """List the embedded, downloaded and recommended models; download one."""


@models.command("list")
@models_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Say which files were passed over, and why.")
def list_command(models_dir: Path | None, as_json: bool, verbose: bool) -> None:
    """Every model you can write with: the embedded one, the models folder, the GGUFs Ollama,
    LM Studio and the Hugging Face cache already hold, and the catalogue's downloads."""
    from engine.models.catalogue import list_models
    from engine.models.discovery import default_models_dir
    from engine.models.local_stores import found_models

    folder = (models_dir or default_models_dir()).expanduser()
    rows = list_models(folder)
    found = found_models(skip=(lambda line: click.echo(line, err=True)) if verbose else None)
    if as_json:
        click.echo(rows_json(folder, rows, found))
        return
    click.echo(f"Models folder: {folder}")
    header = ("name", "quant", "file", "memory", "context", "languages", "license", "status")
    table = [header]
    for row in rows:
        table.append(
            (
                row.name,
                row.quantization,
                _size(row.size_bytes, row.entry is not None and not row.entry.size_verified),
                _size(row.memory_bytes),
                f"{row.context_length:,}",
                row.languages or "-",
                row.license or "-",
                _status(row),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
    click.echo(
        "memory: weights + KV cache at the default context. "
        "Download one with: longwrite models pull KEY (or REPO_ID [FILENAME])."
    )
    print_found(found)


@models.command()
@click.argument("repo_id")
@click.argument("filename", required=False)
@click.option(
    "--quant",
    default="Q4_K_M",
    show_default=True,
    help="With FILENAME left out, the quantization to pick from the repo's files.",
)
@models_dir_option
def pull(repo_id: str, filename: str | None, quant: str, models_dir: Path | None) -> None:
    """Download a GGUF from the Hugging Face Hub into the models folder.

    REPO_ID is a Hub repo such as QuantFactory/LongWriter-llama3.1-8b-GGUF, or the key of a
    catalogue entry (see `longwrite models list`). HF_ENDPOINT, HF_TOKEN and proxy settings are
    honoured; a dropped connection is resumed."""
    from engine.models.catalogue import find_entry
    from engine.models.discovery import default_models_dir
    from engine.models.downloads import choose_file
    from engine.models.downloads import pull as download

    if "/" not in repo_id:
        entry = find_entry(repo_id)
        if entry is None:
            raise UserError(key="error.not_repo_or_key", repo=repo_id)
        repo_id, filename = entry.repo_id, filename or entry.filename
    folder = (models_dir or default_models_dir()).expanduser()
    filename = filename or choose_file(repo_id, quant)
    click.echo(f"Downloading {filename} from {repo_id} into {folder}…", err=True)
    path = download(repo_id, filename, folder)
    click.echo(f"Saved {path}. Write with it: longwrite write --model '{path}' \"…\"", err=True)


def _size(size: int, estimate: bool = False) -> str:
    text = f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.0f} MB"
    return f"~{text} (unverified)" if estimate else text


def _status(row) -> str:
    if row.source != "catalogue":
        return row.source
    if row.downloaded:
        return "downloaded"
    return f"pull {row.entry.key}"


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
