"""Quantize a float GGUF with llama.cpp's own quantizer (through llama-cpp-python)."""

import ctypes
import os
import re
from pathlib import Path

import llama_cpp
from llama_cpp import _logger
from tqdm import tqdm

from engine.errors import UserError

QUANT_TYPES = {
    "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
    "Q5_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
}

# llama.cpp logs one line per tensor while quantizing: "[  12/ 272]  blk.0.attn_q.weight …"
_TENSOR_LINE = re.compile(rb"\[\s*(\d+)/\s*(\d+)\]")


def quantize_gguf(source: Path, target: Path, quant: str, threads: int | None = None) -> None:
    """Write target as the `quant` quantization of the float GGUF at source."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    params.nthread = threads or os.cpu_count() or 1
    bar = tqdm(desc=f"Quantizing {quant}", unit="tensor", leave=False)

    @llama_cpp.llama_log_callback
    def on_log(_level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        found = _TENSOR_LINE.search(text or b"")
        if found:
            bar.total = int(found.group(2))
            bar.update(int(found.group(1)) - bar.n)

    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
    try:
        status = llama_cpp.llama_model_quantize(
            str(source).encode(), str(target).encode(), ctypes.byref(params)
        )
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        bar.close()
    if status != 0:
        raise UserError(key="error.quantize_failed", quant=quant, status=status)
