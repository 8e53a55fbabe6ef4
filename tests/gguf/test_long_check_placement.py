"""On a CUDA machine `export gguf --check-long` runs both sides on the GPU: the float32
reference on CUDA and llama.cpp with every layer offloaded, at the model's whole context.
Checked on a CPU by giving the check a GPU it asks about (no weights are run)."""

import types

import pytest

from training.gguf import long_check, reference_run


@pytest.fixture
def gpu_machine(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr("engine.models.hardware.supports_gpu_offload", lambda: True)


def test_placement_on_a_gpu_machine(gpu_machine):
    assert reference_run.placement() == reference_run.Placement(torch_device="cuda", gpu_layers=-1)
    model = types.SimpleNamespace(config=types.SimpleNamespace(max_position_embeddings=131_072))
    assert long_check.checked_length(model, None) == 131_072


def test_placement_on_a_cpu_machine(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("engine.models.hardware.supports_gpu_offload", lambda: False)
    assert reference_run.placement() == reference_run.Placement(torch_device="cpu", gpu_layers=0)
    model = types.SimpleNamespace(config=types.SimpleNamespace(max_position_embeddings=131_072))
    assert long_check.checked_length(model, None) == long_check.CPU_LENGTH


def test_llama_cpp_gets_every_layer_on_a_gpu_machine(gpu_machine, monkeypatch, tmp_path):
    seen = {}

    class Refused(Exception):
        pass

    def fake_llama(**kwargs):
        seen.update(kwargs)
        raise Refused  # stop before any evaluation

    monkeypatch.setattr("llama_cpp.Llama", fake_llama)
    ref = long_check.LongReference(tokens=[1] * 4200, positions=[4100], logits=None)
    with pytest.raises(Refused):
        long_check.check_long_gguf(tmp_path / "model.gguf", "Q8_0", ref)
    assert seen["n_gpu_layers"] == -1
