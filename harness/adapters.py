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
