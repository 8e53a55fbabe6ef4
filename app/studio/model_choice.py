"""Choosing the model from any panel (the model panel, the welcome, a reopened project's offer):
the switch itself, the header naming the model that writes, the model suggested for this
machine and the models found on disk, as lines in the reader's language."""

from dataclasses import dataclass

from app.studio.language import current, info, t
from app.studio.model_host import found_on_disk, model_title
from app.studio.state import Studio
from engine.errors import UserError
from engine.models.catalogue import CatalogueEntry
from engine.models.discovery import ModelInfo, default_models_dir
from engine.models.recommend import Fit, Machine, rank_found, recommend
from engine.models.settings import LoadSettings

GB = 1e9


def switch(studio: Studio, spec: LoadSettings) -> ModelInfo:
    """Make `spec` the model every page writes with; refused while a generation runs, or when
    the model cannot fit (nothing is loaded until the next generation)."""
    if studio.jobs:
        raise UserError(key="error.switch_while_running")
    chosen = studio.host.choose(spec)
    info("model.now_writing", name=chosen.name)
    return chosen


def header(studio: Studio) -> str:
    return t("model.header", name=model_title(studio.host.spec, studio.models_dir))


@dataclass(frozen=True)
class Suggestion:
    """The suggestion's line, and the catalogue entry to download (None: nothing to download)."""

    line: str
    entry: CatalogueEntry | None


def suggestion(studio: Studio) -> Suggestion:
    """The catalogue model that fits this machine best, with its size, memory and estimated
    speed; its Download is offered only while it is not in the models folder."""
    machine = studio.host.machine()
    fit = recommend(machine, current())
    if fit is None:
        return Suggestion(t("model.recommend_none", free=_free(machine) / GB), None)
    entry = fit.entry
    size = t("model.size" if entry.size_verified else "model.size_approx", gb=fit.size_bytes / GB)
    line = t(
        "model.recommend",
        name=fit.name,
        quant=fit.quantization,
        size=size,
        memory=fit.memory_bytes / GB,
        context=fit.context,
        free=_free(machine) / GB,
        speed=fit.tokens_per_s,
        bandwidth=fit.bandwidth / GB,
        per_token=fit.bytes_per_token / GB,
    )
    if (studio.models_dir or default_models_dir()).joinpath(entry.filename).exists():
        return Suggestion(f"{line} {t('model.recommend_downloaded')}", None)
    return Suggestion(line, entry)


def _free(machine: Machine) -> int:
    shared = any(gpu.shares_ram for gpu in machine.gpus)
    return machine.free_ram if shared else machine.free_ram + machine.free_vram


def found(studio: Studio) -> list[Fit]:
    """The GGUFs already on disk, best first."""
    return rank_found(found_on_disk(studio.models_dir), studio.host.machine())


def found_line(fit: Fit) -> str:
    """One found model: name, source, quantization, size, memory and estimated speed."""
    row = t(
        "welcome.found_row",
        name=fit.name,
        source=t(f"model.source.{fit.found.source}"),
        quant=fit.quantization,
        size=fit.size_bytes / GB,
        memory=fit.memory_bytes / GB,
        speed=fit.tokens_per_s,
    )
    return row if fit.fits else t("welcome.found_too_big", row=row)
