"""Export the 135M model to every quantization; print check numbers and timings as JSON.

    python -m bench.gguf_export [--checkpoint DIR] [--quant f16,q8_0,q4_k_m]
    python -m bench.gguf_export --sharded-random 1.5 [--quant f16]

Without --checkpoint, the embedded SmolLM2 GGUF is first turned into a Hugging Face checkpoint
(transformers, gguf_file=). The embedded Q4_1 file itself is checked too: its weights are the
checkpoint's exactly, so its numbers show what llama.cpp's own arithmetic alone costs.

--sharded-random GB measures export memory instead: a random bf16 Llama of about GB gigabytes
saved in 4 safetensors shards is exported in a fresh process, which reports its resident memory
(VmRSS after imports, then the high-water mark VmHWM) when the conversion and the float32
reference are done and when llama.cpp's checks are done, against the largest shard.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.models.discovery import embedded_model_path
from training.gguf.check import THRESHOLDS, check_gguf, reference
from training.gguf.checkpoint import load_checkpoint
from training.gguf.export import QUANTIZATIONS, export_gguf, parse_quants


def checkpoint_from_embedded(folder: Path) -> Path:
    from training.models import load_model, load_tokenizer

    model = load_model("embedded", dtype="float32")
    tokenizer = load_tokenizer("embedded")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def memory_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def random_sharded_llama(folder: Path, gigabytes: float, shards: int = 4) -> Path:
    """A random Llama of about `gigabytes` GB in bf16, saved in `shards` safetensors files with
    the embedded SmolLM2 tokenizer (built in a child process, so its memory is not counted)."""
    code = f"""
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from training.models import load_tokenizer
tokenizer = load_tokenizer("embedded")
layers = max(1, round({gigabytes} * 1e9 / 2 / 12 / 1024**2 - 1))  # ~12 h^2 parameters a layer
config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=1024, intermediate_size=4096,
    num_hidden_layers=layers, num_attention_heads=16, num_key_value_heads=16,
    max_position_embeddings=8192, tie_word_embeddings=False,
    bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
torch.manual_seed(0)
with torch.device("cpu"):
    model = LlamaForCausalLM(config).to(torch.bfloat16)
size = sum(p.numel() * 2 for p in model.parameters())
model.save_pretrained({str(folder)!r}, max_shard_size=size // {shards} + 2**20)
tokenizer.save_pretrained({str(folder)!r})
"""
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    return folder


def measure_export(checkpoint: Path, quants: str) -> dict:
    """Export in a fresh process; its memory figures, in MiB."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gguf_export",
            "--measure-export",
            str(checkpoint),
            "--quant",
            quants,
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    shard_sizes = [path.stat().st_size for path in checkpoint.glob("*.safetensors")]
    figures["shards"] = len(shard_sizes)
    figures["checkpoint_mib"] = round(sum(shard_sizes) / 2**20)
    figures["largest_shard_mib"] = round(max(shard_sizes) / 2**20)
    figures["convert_growth_per_largest_shard"] = round(
        figures["convert_growth_mib"] / figures["largest_shard_mib"], 2
    )
    return figures


def export_memory_worker(checkpoint: Path, quants: str) -> None:
    """The child side of measure_export: peak memory of conversion + reference, then of the
    llama.cpp checks, printed as one JSON line."""
    # the libraries export uses, imported before the baseline: their memory is a fixed cost
    import llama_cpp  # noqa: F401
    import torch  # noqa: F401
    from transformers import AutoTokenizer, LlamaForCausalLM  # noqa: F401

    from training.gguf import export

    baseline = memory_kib("VmRSS")
    marks = {}
    check = export._check_and_keep

    def marked_check(*args, **kwargs):
        marks.setdefault("convert", memory_kib("VmHWM"))  # before the first llama.cpp load
        return check(*args, **kwargs)

    export._check_and_keep = marked_check
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        results = export.export_gguf(checkpoint, Path(work), parse_quants(quants))
        seconds = time.perf_counter() - started
    mib = 1024
    print(
        json.dumps(
            {
                "baseline_rss_mib": round(baseline / mib),
                "convert_peak_rss_mib": round(marks["convert"] / mib),
                "convert_growth_mib": round((marks["convert"] - baseline) / mib),
                "with_checks_peak_rss_mib": round(memory_kib("VmHWM") / mib),
                "export_s": round(seconds, 1),
                "passed": [r.quant for r in results if r.check.passed],
                "top1_agreement_decided": [round(r.check.decided_agreement, 4) for r in results],
                "mean_kl": [round(r.check.mean_kl, 6) for r in results],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--quant", default=",".join(QUANTIZATIONS).lower())
    parser.add_argument("--sharded-random", type=float, metavar="GB")
    parser.add_argument("--measure-export", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_export:
        export_memory_worker(args.measure_export, args.quant)
        return
    if args.sharded_random:
        with tempfile.TemporaryDirectory() as work:
            folder = random_sharded_llama(Path(work) / "random-llama", args.sharded_random)
            quants = args.quant if "--quant" in sys.argv else "f16"
            print(json.dumps(measure_export(folder, quants), indent=2))
        return
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        checkpoint = args.checkpoint or checkpoint_from_embedded(work / "smollm2-135m")
        started = time.perf_counter()
        results = export_gguf(checkpoint, work / "models", parse_quants(args.quant))
        export_s = time.perf_counter() - started
        loaded = load_checkpoint(checkpoint)
        baseline = check_gguf(
            embedded_model_path(),
            "Q4_1",
            reference(loaded.model, loaded.tokenizer),
            threshold=THRESHOLDS["Q4_K_M"],
        )
    report = {
        "checkpoint": str(args.checkpoint or "embedded SmolLM2-135M-Instruct via transformers"),
        "export_s_total": round(export_s, 1),
        "files": [
            {
                "quant": r.quant,
                "kept": r.path is not None,
                "top1_agreement_all": round(r.check.top1_agreement, 4),
                "top1_agreement_decided": round(r.check.decided_agreement, 4),
                "decided_positions": r.check.decided_positions,
                "mean_kl": round(r.check.mean_kl, 5),
                "tokenizer_matches": r.check.tokenizer_matches,
                "write_s": round(r.seconds, 1),
                "check_s": round(r.check_seconds, 1),
            }
            for r in results
        ],
        "embedded_q4_1_same_weights": {
            "top1_agreement_all": round(baseline.top1_agreement, 4),
            "top1_agreement_decided": round(baseline.decided_agreement, 4),
            "mean_kl": round(baseline.mean_kl, 5),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
