"""The export pipeline: checkpoint → float GGUF → quantizations → checked → models directory."""

import gc
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from training.gguf.check import CheckResult, check_gguf, reference
from training.gguf.checkpoint import load_checkpoint
from training.gguf.convert import FLOAT_TYPES, Description, write_float_gguf
from training.gguf.long_check import check_long_gguf, checked_length, long_reference
from training.gguf.quantize import QUANT_TYPES, quantize_gguf
from training.gguf.vocab import read_vocab

QUANTIZATIONS = [*FLOAT_TYPES, *QUANT_TYPES]


@dataclass
class ExportedFile:
    """One requested quantization: its check, where it went (None if it failed), and its cost."""

    quant: str
    check: CheckResult
    path: Path | None
    seconds: float  # writing it (with the float file it was quantized from)
    check_seconds: float
    long_check: CheckResult | None = None  # with --check-long: far into the context


def parse_quants(text: str) -> list[str]:
    """'f16,q4_k_m' → ['F16', 'Q4_K_M'], or a UserError listing the valid names."""
    quants = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [quant for quant in quants if quant not in QUANTIZATIONS]
    if unknown or not quants:
        valid = ",".join(quant.lower() for quant in QUANTIZATIONS)
        raise UserError(key="error.unknown_quant", quant=", ".join(unknown) or text, valid=valid)
    return list(dict.fromkeys(quants))


def file_stem(name: str) -> str:
    """A file-name-safe version of a model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def export_gguf(
    checkpoint_dir: Path,
    out_dir: Path,
    quants: list[str],
    name: str | None = None,
    check_long: bool = False,
    long_length: int | None = None,
) -> list[ExportedFile]:
    """Convert, quantize and check (with check_long, also beyond 4,096 tokens, up to
    long_length); only files that pass their checks land in out_dir."""
    if not checkpoint_dir.is_dir():
        raise UserError(key="error.checkpoint_not_folder", path=checkpoint_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(key="error.out_dir", path=out_dir, problem=error.strerror) from None
    checkpoint = load_checkpoint(checkpoint_dir)
    vocab = read_vocab(checkpoint.tokenizer, checkpoint.n_vocab, checkpoint.architecture)
    name = name or checkpoint.training_run
    description = Description(
        name, checkpoint.base_model, checkpoint.training_run, checkpoint.steps
    )
    ref = reference(checkpoint.model, checkpoint.tokenizer)
    long_ref = None
    if check_long:
        length = checked_length(checkpoint.model, long_length)
        long_ref = long_reference(checkpoint.model, checkpoint.tokenizer, length)
    source = source_type(checkpoint.saved_dtype)
    floats = [q for q in quants if q in FLOAT_TYPES]
    if any(q in QUANT_TYPES for q in quants) and source not in floats:
        floats.append(source)
    try:
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as work:
            drafts = {}
            for float_type in floats:
                started = time.perf_counter()
                path = Path(work) / f"{file_stem(name)}-{float_type}.gguf"
                write_float_gguf(checkpoint, vocab, description, float_type, path)
                drafts[float_type] = (path, time.perf_counter() - started)
            del checkpoint  # from here on the float files hold the weights
            gc.collect()
            for quant in [q for q in quants if q in QUANT_TYPES]:
                started = time.perf_counter()
                path = Path(work) / f"{file_stem(name)}-{quant}.gguf"
                quantize_gguf(drafts[source][0], path, quant)
                drafts[quant] = (path, drafts[source][1] + time.perf_counter() - started)
            return [
                _check_and_keep(quant, *drafts[quant], ref, long_ref, out_dir) for quant in quants
            ]
    except OSError as error:
        raise UserError(
            key="error.out_dir_write", path=out_dir, problem=error.strerror or error
        ) from None


def source_type(saved_dtype: str) -> str:
    """The float type quantizations start from: the checkpoint's own precision, so a bf16 or
    f16 checkpoint never needs a float32 temporary file (32 GB for an 8B model)."""
    dtype = saved_dtype.removeprefix("torch.")
    return {"bfloat16": "BF16", "float16": "F16"}.get(dtype, "F32")


def _check_and_keep(
    quant, draft: Path, seconds: float, ref, long_ref, out_dir: Path
) -> ExportedFile:
    started = time.perf_counter()
    result = check_gguf(draft, quant, ref)
    long_result = check_long_gguf(draft, quant, long_ref) if long_ref and result.passed else None
    kept = None
    if result.passed and (long_result is None or long_result.passed):
        kept = out_dir / draft.name
        os.replace(draft, kept)
    return ExportedFile(quant, result, kept, seconds, time.perf_counter() - started, long_result)
