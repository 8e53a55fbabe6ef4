"""GPU offload and memory-aware loading: the settings reach llama.cpp, and the memory plan's
numbers. This machine's llama.cpp is a CPU-only build; a GPU is stood in for where noted."""

import pytest

from engine.errors import UserError
from engine.models import hardware
from engine.models.backends.base import ChatRequest
from engine.models.backends.llama_cpp import LlamaCppBackend
from engine.models.catalogue import find_entry
from engine.models.hardware import Device
from engine.models.load_plan import GB, kv_cache_bytes, plan_load
from engine.models.settings import LoadSettings
from engine.schema import SamplingSettings

LLAMA_8B = find_entry("longwriter-llama3.1-8b-q4_k_m").info()
GPU = Device("CUDA0", "a stand-in GPU", 24 * GB, 24 * GB, is_gpu=True)


def test_auto_on_a_cpu_build_offloads_nothing_and_says_cpu(model_path):
    assert not hardware.supports_gpu_offload()
    backend = LlamaCppBackend(model_path, LoadSettings(n_ctx=1024))
    try:
        assert backend.placement.gpu_layers == 0
        assert backend.placement.device == "CPU"
        assert backend.llm.model_params.n_gpu_layers == 0
    finally:
        backend.close()


def test_the_chosen_layers_reach_llama_cpp(model_path, monkeypatch):
    """With a GPU reported, auto offloads all 30 layers and a number is passed as given."""
    monkeypatch.setattr(hardware, "gpus", lambda: [GPU])
    monkeypatch.setattr(hardware, "free_vram_bytes", lambda: GPU.free_bytes)
    for settings, layers in (
        (LoadSettings(n_ctx=1024), 30),
        (LoadSettings(n_ctx=1024, gpu_layers=7), 7),
    ):
        backend = LlamaCppBackend(model_path, settings)
        try:
            assert backend.placement.gpu_layers == layers
            assert backend.placement.device == "CUDA0"
            assert backend.llm.model_params.n_gpu_layers == layers
            assert backend.placement.flash_attn
        finally:
            backend.close()


def test_q8_0_kv_cache_loads_and_generates(model_path):
    backend = LlamaCppBackend(model_path, LoadSettings(n_ctx=1024, kv_cache="q8_0"))
    try:
        assert backend.llm.context_params.type_k == 8  # GGML_TYPE_Q8_0
        assert backend.llm.context_params.type_v == 8
        request = ChatRequest(
            [{"role": "user", "content": "Name a colour."}],
            max_tokens=8,
            sampling=SamplingSettings(temperature=0.0, seed=1),
        )
        assert "".join(backend.stream(request)).strip()
    finally:
        backend.close()


def test_kv_cache_of_an_8b_model_at_32k():
    assert kv_cache_bytes(LLAMA_8B, 32_768, "f16") == 4 * 1024**3
    assert kv_cache_bytes(LLAMA_8B, 32_768, "q8_0") == 4 * 1024**3 * 17 // 32


def test_default_context_is_capped_at_32k_then_by_free_memory():
    roomy = plan_load(LLAMA_8B, LoadSettings(), 64 * GB, [], 0)
    assert roomy.n_ctx == 32_768 and "default cap" in roomy.context_note
    tight = plan_load(LLAMA_8B, LoadSettings(), 7 * GB, [], 0)
    assert 2_048 <= tight.n_ctx < 32_768 and "fits" in tight.context_note
    assert tight.ram_bytes <= 7 * GB


def test_auto_offloads_what_fits_in_free_vram():
    small_gpu = Device("CUDA0", "8 GB card", 4 * GB, 8 * GB, is_gpu=True)
    placement = plan_load(LLAMA_8B, LoadSettings(n_ctx=8_192), 32 * GB, [small_gpu], 4 * GB)
    assert 0 < placement.gpu_layers < 32
    assert placement.vram_bytes <= 4 * GB


def test_too_big_names_both_numbers_and_what_to_do():
    with pytest.raises(UserError) as refused:
        plan_load(LLAMA_8B, LoadSettings(n_ctx=32_768), 6 * GB, [], 0)
    message = str(refused.value)
    assert "6.0 GB free" in message and "4.3 GB of KV cache" in message
    assert "--ctx" in message and "--kv-cache q8_0" in message


def test_a_gpu_sharing_the_ram_adds_no_memory():
    """Apple Silicon: Metal's free memory is the RAM; counting both would overcommit it."""
    metal = Device("Metal", "Apple M2", 8 * GB, 16 * GB, is_gpu=True, shares_ram=True)
    placement = plan_load(LLAMA_8B, LoadSettings(), 8 * GB, [metal], 8 * GB)
    assert placement.gpu_layers == 32 and placement.device == "Metal"
    assert placement.ram_bytes + placement.vram_bytes <= 8 * GB
    assert 2_048 <= placement.n_ctx < 32_768  # 8 GB hold the weights and a shorter KV cache
