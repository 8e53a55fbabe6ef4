"""Memory-aware loading: what a GGUF needs at a context length, where its layers go, and whether
it fits, decided before llama.cpp allocates anything (so a model too big is refused in one line
instead of being killed by the system halfway through loading).
"""

from dataclasses import dataclass

from engine.errors import UserError
from engine.models.discovery import ModelInfo
from engine.models.hardware import Device
from engine.models.settings import LoadSettings

MAX_DEFAULT_CONTEXT = 32_768
MIN_CONTEXT = 2_048
CONTEXT_STEP = 1_024
# llama.cpp's compute buffers and scratch at a 512-token batch, plus the process around them:
# measured near 300 MB for 8B models on CPU; rounded up.
OVERHEAD_BYTES = 512 * 1024**2
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 34 / 32}  # q8_0: 32 int8 values + one f16 scale

GB = 1_000_000_000  # decimal, as the Hub and disk tools show sizes


@dataclass(frozen=True)
class Placement:
    """The decided load: context, layers on the GPU, and the memory each side needs."""

    n_ctx: int
    gpu_layers: int
    n_layers: int
    device: str
    kv_cache: str
    flash_attn: bool
    weights_bytes: int
    kv_bytes: int
    ram_bytes: int
    vram_bytes: int
    context_note: str

    def summary(self) -> str:
        """One line for the terminal: device, layers, context and its KV cache."""
        where = (
            f"{self.device}, {self.gpu_layers}/{self.n_layers} layers on the GPU"
            if self.gpu_layers
            else "CPU"
        )
        return (
            f"Model on {where}; context {self.n_ctx:,} tokens{self.context_note}; "
            f"KV cache {self.kv_cache} {_gb(self.kv_bytes)}."
        )


def kv_cache_bytes(info: ModelInfo, n_ctx: int, kv_cache: str) -> int:
    """Bytes of the K and V caches of every layer at n_ctx tokens."""
    return int(info.n_layers * info.kv_elements_per_layer * n_ctx * KV_BYTES_PER_ELEMENT[kv_cache])


def needed_bytes(info: ModelInfo, n_ctx: int, kv_cache: str = "f16") -> int:
    """Weights, KV cache and working buffers: what loading at n_ctx takes in all."""
    return info.file_bytes + kv_cache_bytes(info, n_ctx, kv_cache) + OVERHEAD_BYTES


def plan_load(
    info: ModelInfo,
    settings: LoadSettings,
    free_ram: int,
    gpus: list[Device],
    free_vram: int,
) -> Placement:
    """Choose context and GPU layers for this machine, or raise a UserError when it cannot fit.
    The settings' n_ctx, gpu_layers, kv_cache and flash_attn are honoured; None means auto."""
    requested_ctx = settings.n_ctx
    n_layers = max(info.n_layers, 1)
    kv_per_token = kv_cache_bytes(info, 1, settings.kv_cache)
    trained = info.context_length
    # A GPU that shares the RAM (Apple Silicon) adds no memory: both sides draw on free_ram.
    shared = any(gpu.shares_ram for gpu in gpus)
    if shared:
        free_vram = min(free_vram, free_ram)
    if requested_ctx:
        n_ctx, note = min(requested_ctx, trained), ""
    else:
        total_free = free_ram if shared else free_ram + free_vram
        n_ctx, note = _default_context(info, kv_per_token, total_free)
    layers = _gpu_layers(settings.gpu_layers, gpus, n_layers, info, kv_per_token * n_ctx, free_vram)
    weights, kv = info.file_bytes, kv_per_token * n_ctx
    on_gpu = layers / n_layers
    vram = int(on_gpu * (weights + kv))
    ram = int((1 - on_gpu) * (weights + kv)) + OVERHEAD_BYTES
    too_big = ram + vram > free_ram if shared else ram > free_ram or (layers and vram > free_vram)
    if too_big:
        raise _too_big(info, n_ctx, weights, kv, ram, free_ram, vram, free_vram)
    flash_attn = settings.flash_attn
    if flash_attn is None:
        flash_attn = settings.kv_cache != "f16" or layers > 0
    return Placement(
        n_ctx=n_ctx,
        gpu_layers=layers,
        n_layers=n_layers,
        device=gpus[0].name if layers and gpus else "CPU",
        kv_cache=settings.kv_cache,
        flash_attn=flash_attn,
        weights_bytes=weights,
        kv_bytes=kv,
        ram_bytes=ram,
        vram_bytes=vram,
        context_note=note,
    )


def _default_context(info: ModelInfo, kv_per_token: int, free: int) -> tuple[int, str]:
    """The trained length, capped at MAX_DEFAULT_CONTEXT and by what fits in free memory."""
    trained = info.context_length
    fits = (free - info.file_bytes - OVERHEAD_BYTES) // max(kv_per_token, 1)
    fits = fits // CONTEXT_STEP * CONTEXT_STEP
    n_ctx = min(trained, MAX_DEFAULT_CONTEXT, fits)
    if n_ctx < min(MIN_CONTEXT, trained):
        needed = needed_bytes(info, min(MIN_CONTEXT, trained))
        raise UserError(
            key="error.memory_short",
            name=info.name,
            quant=info.quantization,
            needed=_gb(needed),
            context=min(MIN_CONTEXT, trained),
            free=_gb(free),
        )
    if n_ctx == trained:
        return n_ctx, " (the model's trained length)"
    if n_ctx == MAX_DEFAULT_CONTEXT:
        return n_ctx, f" (default cap; trained on {trained:,}; --ctx for more)"
    return n_ctx, f" (what fits in free memory; trained on {trained:,})"


def _gpu_layers(
    requested: int | None,
    gpus: list[Device],
    n_layers: int,
    info: ModelInfo,
    kv_bytes: int,
    free_vram: int,
) -> int:
    """Layers to offload: the number asked for, or with auto all that fit in free VRAM."""
    if not gpus:
        return 0  # a CPU-only build ignores n_gpu_layers; report what really happens
    if requested is not None:
        return min(requested, n_layers)
    per_layer = (info.file_bytes + kv_bytes) / n_layers
    # keep room on the GPU for llama.cpp's compute buffers
    return max(0, min(n_layers, int((free_vram - OVERHEAD_BYTES) // max(per_layer, 1))))


def _too_big(info, n_ctx, weights, kv, ram, free_ram, vram, free_vram) -> UserError:
    return UserError(
        key="error.too_big_gpu" if vram else "error.too_big",
        name=info.name,
        quant=info.quantization,
        context=n_ctx,
        ram=_gb(ram),
        free_ram=_gb(free_ram),
        vram=_gb(vram),
        free_vram=_gb(free_vram),
        weights=_gb(weights),
        kv=_gb(kv),
    )


def _gb(size: int) -> str:
    return f"{size / GB:.1f} GB" if size >= GB / 10 else f"{size / 1e6:.0f} MB"
