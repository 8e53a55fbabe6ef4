"""The model suggested for a machine and the ranking of models found on disk: what fits its
free memory (LONGWRITE_MEMORY_LIMIT_MB included), LongWriter first, and the speed estimate."""

import pytest

from engine.models import hardware
from engine.models.catalogue import find_entry
from engine.models.hardware import Device
from engine.models.load_plan import GB, kv_cache_bytes
from engine.models.local_stores import FoundModel
from engine.models.recommend import (
    CPU_BANDWIDTH,
    GPU_BANDWIDTH,
    Machine,
    assess,
    rank_found,
    recommend,
)

MB = 1024 * 1024
GPU = Device("CUDA0", "a stand-in GPU", 24 * GB, 24 * GB, is_gpu=True)


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(hardware, "gpus", lambda: [])
    monkeypatch.setattr(hardware, "free_vram_bytes", lambda: 0)


def test_a_6000_mb_limit_gets_the_largest_model_that_fits(cpu_only, monkeypatch):
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "6000")
    fit = recommend(Machine.now())
    assert fit.entry.key == "qwen2.5-3b-instruct-q4_k_m"  # every 7-9B model needs 7 GB or more
    assert fit.fits and fit.memory_bytes <= 6000 * MB
    assert fit.context == 32_768 and fit.size_bytes == 1_930_000_000


def test_with_room_a_longwriter_model_in_the_writers_language_comes_first():
    machine = Machine(free_ram=16_000 * MB, free_vram=0)
    english, chinese = recommend(machine, "en"), recommend(machine, "zh-CN")
    assert english.entry.key == "longwriter-llama3.1-8b-q5_k_m"
    assert chinese.entry.key == "longwriter-glm4-9b-q5_k_m"
    # Q8_0 of the Llama model fits too, but reads 8.5 GB a token: under 4 tokens/s on a CPU
    q8 = assess(find_entry("longwriter-llama3.1-8b-q8_0").info(), machine)
    assert q8.fits and q8.tokens_per_s < 4 < english.tokens_per_s


def test_nothing_is_suggested_when_nothing_fits():
    assert recommend(Machine(free_ram=1_000 * MB, free_vram=0)) is None


def test_the_speed_is_bandwidth_over_the_bytes_read_per_token():
    info = find_entry("longwriter-llama3.1-8b-q4_k_m").info()
    fit = assess(info, Machine(free_ram=64 * GB, free_vram=0))
    per_token = info.file_bytes + kv_cache_bytes(info, 32_768, "f16") // 2
    assert fit.bytes_per_token == per_token and fit.bandwidth == CPU_BANDWIDTH
    assert fit.tokens_per_s == pytest.approx(40e9 / per_token)
    assert 5 < fit.tokens_per_s < 6
    on_gpu = assess(info, Machine(free_ram=16 * GB, free_vram=24 * GB, gpus=(GPU,)))
    assert on_gpu.bandwidth == GPU_BANDWIDTH and on_gpu.tokens_per_s > 7 * fit.tokens_per_s


def test_a_gpu_makes_room_for_the_largest_quantization():
    fit = recommend(Machine(free_ram=8 * GB, free_vram=24 * GB, gpus=(GPU,)))
    assert fit.entry.key == "longwriter-llama3.1-8b-q8_0"


def test_a_memory_limit_is_not_raised_by_the_model_being_replaced(cpu_only, monkeypatch):
    class Released:
        ram_bytes, vram_bytes = 2 * GB, 0

    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "6000")
    assert Machine.now(Released()).free_ram == 6000 * MB
    monkeypatch.delenv("LONGWRITE_MEMORY_LIMIT_MB")
    monkeypatch.setattr(hardware, "free_ram_bytes", lambda: 3 * GB)
    assert Machine.now(Released()).free_ram == 5 * GB


def _found(name: str, size_gb: float, layers: int = 32) -> FoundModel:
    size = int(size_gb * GB)
    return FoundModel(
        "ollama", name, f"/blobs/{name}", size, "Q4_K_M", 32_768, 32_768, 0, layers, 1024
    )


def test_found_models_rank_fitting_then_longwriter_then_size():
    found = [
        _found("small:1b", 1.0),
        _found("huge:70b", 40.0),
        _found("qwen:7b", 4.7),
        _found("longwriter-llama3.1:8b", 4.9),
    ]
    ranked = rank_found(found, Machine(free_ram=12 * GB, free_vram=0))
    assert [fit.name for fit in ranked] == [
        "longwriter-llama3.1:8b",
        "qwen:7b",
        "small:1b",
        "huge:70b",
    ]
    assert [fit.fits for fit in ranked] == [True, True, True, False]
    assert ranked[0].found is found[3]
