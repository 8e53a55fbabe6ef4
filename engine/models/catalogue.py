"""The model catalogue: recommended GGUF downloads, kept as data in assets/models/catalogue.json,
and the list of every model a writer can pick (embedded, models folder, catalogue)."""

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from engine.models.discovery import ModelInfo, embedded_model_path, find_models, read_model_info
from engine.models.load_plan import MAX_DEFAULT_CONTEXT, needed_bytes


class CatalogueEntry(BaseModel):
    """One downloadable GGUF file and what the studio needs to know before downloading it."""

    key: str
    name: str
    quant: str
    repo_id: str
    filename: str
    checkpoint: str | None = None  # the Hugging Face model the file was made from
    size_bytes: int
    size_verified: bool
    context_length: int
    n_layers: int
    kv_elements_per_layer: int
    chat_template: str
    languages: list[str]
    license: str
    note: str = ""

    def info(self) -> ModelInfo:
        """The entry as ModelInfo, enough to estimate memory without the file."""
        return ModelInfo(
            name=self.name,
            context_length=self.context_length,
            quantization=self.quant,
            architecture=self.chat_template,
            chat_template=None,
            file_bytes=self.size_bytes,
            n_layers=self.n_layers,
            kv_elements_per_layer=self.kv_elements_per_layer,
        )


def catalogue() -> list[CatalogueEntry]:
    """Every entry of the catalogue, in the file's order."""
    text = resources.files("assets").joinpath("models/catalogue.json").read_text("utf-8")
    return [CatalogueEntry(**entry) for entry in json.loads(text)["models"]]


def find_entry(key: str) -> CatalogueEntry | None:
    return next((entry for entry in catalogue() if entry.key == key), None)


def entry_for_file(path: Path) -> CatalogueEntry | None:
    """The catalogue entry a downloaded GGUF file came from, by its file name."""
    return next((entry for entry in catalogue() if entry.filename == path.name), None)


def default_context(info: ModelInfo) -> int:
    """The context a model gets by default when memory allows: its trained length, capped."""
    return min(info.context_length, MAX_DEFAULT_CONTEXT)


@dataclass(frozen=True)
class ListedModel:
    """One row of `longwrite models list` and of the studio's catalogue."""

    name: str
    source: str  # "embedded", "models folder" or "catalogue"
    quantization: str
    size_bytes: int
    memory_bytes: int
    context_length: int
    languages: str
    license: str
    downloaded: bool
    path: Path | None
    entry: CatalogueEntry | None = None


def list_models(models_dir: Path) -> list[ListedModel]:
    """The embedded model, each GGUF in the models folder, then catalogue entries."""
    embedded = _local_row(embedded_model_path(), "embedded", "en", "apache-2.0")
    rows = [replace(embedded, name="SmolLM2-135M-Instruct")]
    local = find_models(models_dir)
    rows += [_local_row(path, "models folder", "", "") for path in local]
    names = {path.name for path in local}
    for entry in catalogue():
        info = entry.info()
        rows.append(
            ListedModel(
                name=entry.name,
                source="catalogue",
                quantization=entry.quant,
                size_bytes=entry.size_bytes,
                memory_bytes=needed_bytes(info, default_context(info)),
                context_length=default_context(info),
                languages=", ".join(entry.languages),
                license=entry.license,
                downloaded=entry.filename in names,
                path=models_dir / entry.filename if entry.filename in names else None,
                entry=entry,
            )
        )
    return rows


def _local_row(path: Path, source: str, languages: str, license: str) -> ListedModel:
    info = read_model_info(path)
    entry = next((e for e in catalogue() if e.filename == path.name), None)
    return ListedModel(
        name=info.name,
        source=source,
        quantization=info.quantization,
        size_bytes=info.file_bytes,
        memory_bytes=needed_bytes(info, default_context(info)),
        context_length=default_context(info),
        languages=", ".join(entry.languages) if entry else languages,
        license=entry.license if entry else license,
        downloaded=True,
        path=path,
        entry=entry,
    )
