"""Where and how the Hugging Face side of a GGUF check runs: the float32 logits the GGUF's
predictions are compared with, on the GPU when there is one, and how many layers llama.cpp is
given there. Shared by the short check (check.py) and the long-context one (long_check.py)."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Placement:
    """Where the long check runs: the float32 reference's torch device and llama.cpp's GPU
    layers. On a CUDA machine both sides use the GPU: 131,072 tokens of an 8B model on the
    CPU take hours per quantization while the GPUs sit idle."""

    torch_device: str
    gpu_layers: int  # -1: every layer, 0: none


def placement() -> Placement:
    import torch

    from engine.models.hardware import supports_gpu_offload

    return Placement(
        torch_device="cuda" if torch.cuda.is_available() else "cpu",
        gpu_layers=-1 if supports_gpu_offload() else 0,
    )


def float32_logits(model, tokens: list[int], positions: list[int] | None, device: str):
    """The model's float32 next-token logits for `tokens` (only at `positions`, if given), run
    on `device`; the model is left on the CPU."""
    import torch

    keep = {} if positions is None else {"logits_to_keep": torch.tensor(positions, device=device)}
    if hasattr(model, "run_float32"):  # a checkpoint streamed from its shards layer by layer
        return model.run_float32(tokens, device=device, **keep)
    model = model.float().to(device)
    try:
        with torch.no_grad():
            logits = model(torch.tensor([tokens], device=device), **keep).logits[0]
        return logits.float().cpu().numpy().astype(np.float32)
    finally:
        model.to("cpu")
