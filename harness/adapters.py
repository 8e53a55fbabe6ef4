"""Small GGUF LoRA adapter files for tests: the header and tensor table llama.cpp's converter
writes, for the embedded model or for another base."""

from pathlib import Path

import gguf
import numpy as np


def write_adapter(path: Path, arch="llama", layers=30, hidden=576, rank=2, keys=True) -> Path:
    """A small GGUF LoRA adapter touching layer 0's attn_q, as llama.cpp's converter lays it
    out (with or without our block_count / embedding_length keys)."""
    writer = gguf.GGUFWriter(path, arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 2.0 * rank)
    if keys:
        writer.add_block_count(layers)
        writer.add_embedding_length(hidden)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((rank, hidden), np.float16))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((hidden, rank), np.float16))
    writer.add_tensor(
        f"blk.{layers - 1}.ffn_up.weight.lora_a", np.zeros((rank, hidden), np.float16)
    )
    writer.add_tensor(f"blk.{layers - 1}.ffn_up.weight.lora_b", np.zeros((64, rank), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_zero_voice(path: Path, rank: int = 2, hidden: int = 576, layers: int = 30) -> Path:
    """A LoRA adapter llama.cpp loads on the embedded model (every layer's attn_q, lora_b all
    zeros, so it changes nothing): a voice in seconds, without training."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 2.0 * rank)
    for block in range(layers):
        name = f"blk.{block}.attn_q.weight"
        writer.add_tensor(f"{name}.lora_a", np.ones((rank, hidden), np.float16))
        writer.add_tensor(f"{name}.lora_b", np.zeros((hidden, rank), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
