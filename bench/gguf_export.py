"""Export the 135M model to every quantization; print check numbers and timings as JSON.

    python -m bench.gguf_export [--checkpoint DIR] [--quant f16,q8_0,q4_k_m]

Without --checkpoint, the embedded SmolLM2 GGUF is first turned into a Hugging Face checkpoint
(transformers, gguf_file=). The embedded Q4_1 file itself is checked too: its weights are the
checkpoint's exactly, so its numbers show what llama.cpp's own arithmetic alone costs.
"""

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--quant", default=",".join(QUANTIZATIONS).lower())
    args = parser.parse_args()
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
