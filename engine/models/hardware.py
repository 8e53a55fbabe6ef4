"""The machine a local GGUF runs on: llama.cpp's compute devices and free memory.

llama-cpp-python binds `llama_supports_gpu_offload` but not ggml's device registry, so the four
registry calls that name the devices and report their free memory are bound here with ctypes.
It holds no settings: how a model is loaded travels in engine.models.settings.LoadSettings.
"""

import ctypes
import os
from dataclasses import dataclass
from functools import cache

import psutil

from engine.errors import UserError

# ggml's enum ggml_backend_dev_type: CPU, GPU, IGPU, ACCEL, ...
_DEVICE_TYPE_CPU = 0
_DEVICE_TYPE_GPU = 1
_DEVICE_TYPE_IGPU = 2


@dataclass(frozen=True)
class Device:
    """One compute device as llama.cpp names it ("CPU", "CUDA0", "Metal"...)."""

    name: str
    description: str
    free_bytes: int
    total_bytes: int
    is_gpu: bool
    shares_ram: bool = False  # Apple Silicon and integrated GPUs: its memory is the RAM


def supports_gpu_offload() -> bool:
    """True when this llama.cpp build has a GPU backend (CUDA, Metal, Vulkan...)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


@cache
def _registry() -> ctypes.CDLL:
    from llama_cpp._ggml import libggml

    libggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    libggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    libggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(libggml, name).argtypes = [ctypes.c_void_p]
        getattr(libggml, name).restype = ctypes.c_char_p
    libggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    libggml.ggml_backend_dev_type.restype = ctypes.c_int
    libggml.ggml_backend_dev_memory.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    libggml.ggml_backend_dev_memory.restype = None
    return libggml


def devices() -> list[Device]:
    """Every device llama.cpp can compute on, with its free and total memory."""
    lib = _registry()
    found = []
    for index in range(lib.ggml_backend_dev_count()):
        handle = lib.ggml_backend_dev_get(index)
        kind = lib.ggml_backend_dev_type(handle)
        if kind not in (_DEVICE_TYPE_CPU, _DEVICE_TYPE_GPU, _DEVICE_TYPE_IGPU):
            continue  # accelerators such as BLAS run beside the CPU, they hold no layers
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(handle, ctypes.byref(free), ctypes.byref(total))
        name = (lib.ggml_backend_dev_name(handle) or b"?").decode()
        found.append(
            Device(
                name=name,
                description=(lib.ggml_backend_dev_description(handle) or b"").decode(),
                free_bytes=free.value,
                total_bytes=total.value,
                is_gpu=kind != _DEVICE_TYPE_CPU,
                shares_ram=kind == _DEVICE_TYPE_IGPU or name.lower().startswith(("metal", "mtl")),
            )
        )
    return found


def gpus() -> list[Device]:
    """The devices that can hold offloaded layers; empty on a CPU-only build."""
    if not supports_gpu_offload():
        return []
    return [device for device in devices() if device.is_gpu]


def memory_limit_bytes() -> int | None:
    """LONGWRITE_MEMORY_LIMIT_MB as bytes, when set: it replaces the detected free memory."""
    configured = os.environ.get("LONGWRITE_MEMORY_LIMIT_MB", "").strip()
    if not configured:
        return None
    if not configured.isdigit():
        raise UserError(key="error.memory_limit", value=configured)
    return int(configured) * 1024 * 1024


def free_ram_bytes() -> int:
    """Memory the system can give a new model without swapping, or the configured limit."""
    limit = memory_limit_bytes()
    available = psutil.virtual_memory().available
    return available if limit is None else limit


def free_vram_bytes() -> int:
    """Free memory summed over the GPUs, capped by the configured limit; 0 without a GPU."""
    free = sum(device.free_bytes for device in gpus())
    limit = memory_limit_bytes()
    return free if limit is None else min(free, limit)
