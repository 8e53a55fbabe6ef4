"""Which model to suggest on this machine: the catalogue entry that fits its free memory (a
LongWriter model first), and the models already on disk, best first, each with the memory it
needs and an estimated decoding speed.

The speed is an estimate, not a measurement: decoding one token reads every weight and the KV
cache once, so tokens per second is about memory bandwidth divided by the bytes read per token.
The bandwidths below are typical figures, not this machine's.
"""

from dataclasses import dataclass, replace

from engine.errors import UserError
from engine.models import hardware
from engine.models.catalogue import CatalogueEntry, catalogue, default_context
from engine.models.discovery import ModelInfo
from engine.models.hardware import Device
from engine.models.load_plan import Placement, plan_load
from engine.models.local_stores import FoundModel
from engine.models.settings import LoadSettings

GB_S = 1e9
# Typical memory bandwidth llama.cpp reaches: dual-channel DDR4/DDR5 for the CPU, a mid-range
# discrete GPU, and the unified memory of Apple Silicon or an integrated GPU.
CPU_BANDWIDTH = 40 * GB_S
GPU_BANDWIDTH = 300 * GB_S
SHARED_BANDWIDTH = 100 * GB_S
# Below this a long piece takes hours: a faster model that fits is preferred.
USABLE_TOKENS_PER_S = 4.0


@dataclass(frozen=True)
class Machine:
    """What a model can use here: free RAM, free GPU memory and the GPUs."""

    free_ram: int
    free_vram: int
    gpus: tuple[Device, ...] = ()

    @classmethod
    def now(cls, released: Placement | None = None) -> "Machine":
        """This machine's free memory. The memory of `released`, a model that is closed before
        the next one loads, counts as free, unless LONGWRITE_MEMORY_LIMIT_MB caps what a model
        may take."""
        capped = hardware.memory_limit_bytes() is not None
        back = released if released is not None and not capped else None
        return cls(
            free_ram=hardware.free_ram_bytes() + (back.ram_bytes if back else 0),
            free_vram=hardware.free_vram_bytes() + (back.vram_bytes if back else 0),
            gpus=tuple(hardware.gpus()),
        )

    def place(self, info: ModelInfo, settings: LoadSettings) -> Placement:
        """plan_load on this machine: a UserError when the model cannot fit."""
        return plan_load(info, settings, self.free_ram, list(self.gpus), self.free_vram)


@dataclass(frozen=True)
class Fit:
    """A model judged for this machine at its default context."""

    name: str
    quantization: str
    size_bytes: int
    memory_bytes: int  # weights, KV cache and buffers at `context`
    context: int
    fits: bool
    tokens_per_s: float  # an estimate from memory bandwidth, see the module's docstring
    bandwidth: float  # bytes per second the estimate assumes
    bytes_per_token: int
    entry: CatalogueEntry | None = None
    found: FoundModel | None = None

    @property
    def longwriter(self) -> bool:
        return "longwriter" in self.name.lower()


def assess(info: ModelInfo, machine: Machine) -> Fit:
    """Whether the model loads here at its default context, its memory and estimated speed."""
    context = default_context(info)
    settings = LoadSettings(n_ctx=context)
    try:
        placement = machine.place(info, settings)
        fits = True
    except UserError:
        # where it would go with unlimited memory, for the speed it would have
        placement = plan_load(info, settings, 2**62, list(machine.gpus), 2**62)
        fits = False
    # the KV cache is read up to the current position: half full on average over a piece
    per_token = placement.weights_bytes + placement.kv_bytes // 2
    bandwidth = _bandwidth(placement, machine)
    return Fit(
        name=info.name,
        quantization=info.quantization,
        size_bytes=info.file_bytes,
        memory_bytes=placement.ram_bytes + placement.vram_bytes,
        context=context,
        fits=fits,
        tokens_per_s=bandwidth / max(per_token, 1),
        bandwidth=bandwidth,
        bytes_per_token=per_token,
    )


def _bandwidth(placement: Placement, machine: Machine) -> float:
    """The bandwidth of the whole read: layers on the GPU at its rate, the rest at the CPU's."""
    if not placement.gpu_layers:
        return CPU_BANDWIDTH
    shared = any(gpu.shares_ram for gpu in machine.gpus)
    gpu = SHARED_BANDWIDTH if shared else GPU_BANDWIDTH
    on_gpu = placement.gpu_layers / placement.n_layers
    return 1 / (on_gpu / gpu + (1 - on_gpu) / CPU_BANDWIDTH)


def recommend(machine: Machine, language: str = "en") -> Fit | None:
    """The catalogue entry to suggest: among those that fit, a LongWriter model first, then one
    whose first language is the writer's, then one fast enough to use, then the largest (a
    larger quantization of the same model writes better). None when nothing fits."""
    fitting = [fit for fit in _catalogue_fits(machine) if fit.fits]
    if not fitting:
        return None
    return max(
        fitting,
        key=lambda fit: (
            fit.longwriter,
            fit.entry.languages[:1] == [language.split("-")[0]],
            fit.tokens_per_s >= USABLE_TOKENS_PER_S,
            fit.size_bytes,
        ),
    )


def _catalogue_fits(machine: Machine) -> list[Fit]:
    return [replace(assess(entry.info(), machine), entry=entry) for entry in catalogue()]


def rank_found(found: list[FoundModel], machine: Machine) -> list[Fit]:
    """Models already on disk, best first: those that fit, LongWriter models, then the largest."""
    fits = [replace(assess(model.info(), machine), found=model) for model in found]
    return sorted(fits, key=lambda fit: (fit.fits, fit.longwriter, fit.size_bytes), reverse=True)
