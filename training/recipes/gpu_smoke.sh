#!/usr/bin/env bash
# GPU smoke run: every GPU path of the recipes once, small, in a few minutes on one GPU with no
# network. Prints one JSON line: step times, peak GPU memory, export agreement.
#   bash training/recipes/gpu_smoke.sh OUT               (on a GPU machine)
#   bash training/recipes/gpu_smoke.sh OUT --cpu-check   (the same stages at toy size on a CPU; CI)
# Stages:
#   1 model   the embedded SmolLM2-135M GGUF dequantized to a bf16 checkpoint (MODEL= another
#             GGUF or HF folder; LAYERS=N keeps the first N blocks); --cpu-check: a tiny random
#             Llama over the same tokenizer
#   2 data    the miniature's chat rows, prepared with a 10 % eval split
#   3 SFT     packed, flash-attn (sdpa where flash-attn is absent), bf16; killed right after
#             its checkpoint at step SAVE, resumed with --resume, on to STEPS
#   4 DPO     10 steps from sft/final with the bf16 reference, merged save in dpo/final
#   5 export  GGUF f16 + q8_0, checked in llama.cpp (every layer on the GPU if its build has CUDA)
# Offline installs: WHEELS=DIR installs the wheels in DIR first (pip --no-index).
set -euo pipefail
OUT="${1:?usage: gpu_smoke.sh OUT [--cpu-check]}"
CPU_CHECK=""
[ "${2:-}" = "--cpu-check" ] && CPU_CHECK=1
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ]; then  # carried wheels go before the machine's own packages
  "$PYTHON" -m pip install -q --no-index --no-deps --target "$OUT/site" "$WHEELS"/*.whl
  export PYTHONPATH="$repo:$OUT/site${PYTHONPATH#"$repo"}"
fi
started=$SECONDS
mark() { echo "$1 $((SECONDS - started))" >>"$OUT/stage_seconds.txt"; echo "== $1 ($((SECONDS - started)) s)" >&2; }
: >"$OUT/stage_seconds.txt"

if [ -n "$CPU_CHECK" ]; then
  STEPS="${STEPS:-4}" SAVE="${SAVE:-2}" DPO_STEPS="${DPO_STEPS:-2}" PACK="${PACK:-256}"
  MODEL_SECTION="{name: embedded, tiny: {hidden_size: 64, layers: 2, heads: 4}}"
  PRECISION="bf16: false, use_cpu: true"
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
else
  STEPS="${STEPS:-20}" SAVE="${SAVE:-10}" DPO_STEPS="${DPO_STEPS:-10}" PACK="${PACK:-4096}"
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: use --cpu-check')"
  attention=sdpa
  "$PYTHON" -c "import flash_attn" 2>/dev/null && attention=flash_attention_2
  # stage 1: the embedded GGUF (or MODEL) dequantized and saved as a bf16 checkpoint
  "$PYTHON" - "$OUT/base" "${MODEL:-embedded}" "${LAYERS:-0}" <<'EOF'
import sys, torch
from training.models import load_model, load_tokenizer
folder, name, layers = sys.argv[1], sys.argv[2], int(sys.argv[3])
model, tokenizer = load_model(name, dtype="bfloat16"), load_tokenizer(name)
if layers:  # keep the first N blocks
    model.model.layers = model.model.layers[:layers]
    model.config.num_hidden_layers = layers
model.save_pretrained(folder)
tokenizer.save_pretrained(folder)
EOF
  MODEL_SECTION="{name: $OUT/base, dtype: bfloat16, attn_implementation: $attention}"
  PRECISION="bf16: true"
fi
mark model

# stage 2: the miniature's chat rows (x8), 10 % held out for eval loss
"$PYTHON" - "$here/cpu/general.jsonl" "$OUT" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
with open(f"{sys.argv[2]}/chat.jsonl", "w", encoding="utf-8") as out:
    out.writelines(json.dumps(row) + "\n" for row in rows * 8)
with open(f"{sys.argv[2]}/pairs.jsonl", "w", encoding="utf-8") as out:
    for row, other in zip(rows, rows[1:] + rows[:1]):
        out.write(json.dumps({"prompt": row["messages"][:-1], "chosen": row["messages"][-1:],
                              "rejected": other["messages"][-1:]}) + "\n")
EOF
tokenizer="embedded"
[ -z "$CPU_CHECK" ] && tokenizer="$OUT/base"
"$PYTHON" -m app data prepare --long "$OUT/chat.jsonl" --tokenizer "$tokenizer" \
  --max-length "$PACK" --eval-fraction 0.1 --out "$OUT/sft_data"
mark data

# stage 3: SFT, killed after its checkpoint at step SAVE, resumed to STEPS
cat >"$OUT/sft.yaml" <<EOF
model: $MODEL_SECTION
data: $OUT/sft_data
output_dir: $OUT/sft
pack_length: $PACK
trainer: {learning_rate: 1.0e-4, max_steps: $STEPS, save_steps: $SAVE, eval_steps: $SAVE,
  save_total_limit: 1, per_device_train_batch_size: 1, warmup_steps: 0,
  activation_checkpointing: true, $PRECISION, seed: 0}
EOF
if CRASH_AFTER_SAVE="$SAVE" "$PYTHON" "$here/crash_after_save.py" train sft "$OUT/sft.yaml"; then
  echo "the SFT run was to be killed after step $SAVE" >&2; exit 1
fi
[ -f "$OUT/sft/checkpoint-$SAVE/trainer_state.json" ] || { echo "no checkpoint-$SAVE" >&2; exit 1; }
"$PYTHON" -m app train sft "$OUT/sft.yaml" --resume
mark sft

# stage 4: DPO from sft/final with the reference loaded like the policy
cat >"$OUT/dpo.yaml" <<EOF
model: {name: $OUT/sft/final$([ -z "$CPU_CHECK" ] && echo ", dtype: bfloat16, attn_implementation: $attention")}
data: $OUT/pairs.jsonl
output_dir: $OUT/dpo
trainer: {learning_rate: 1.0e-5, max_steps: $DPO_STEPS, max_length: $PACK, save_strategy: "no",
  activation_checkpointing: true, $PRECISION, seed: 0}
EOF
"$PYTHON" -m app train dpo "$OUT/dpo.yaml"
mark dpo

# stage 5: export and check, then the report
"$PYTHON" - "$OUT" <<'EOF'
import json, sys, time
from pathlib import Path
out = Path(sys.argv[1])
from training.gguf.export import export_gguf
from training.gguf.long_check import placement
started = time.perf_counter()
results = export_gguf(out / "dpo/final", out / "models", ["F16", "Q8_0"], name="smoke")
export_s = time.perf_counter() - started

def metrics(stage):
    rows = [json.loads(line) for line in (out / stage / "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if "loss" in row]
    times = [b["time"] - a["time"] for a, b in zip(steps, steps[1:]) if b["step"] == a["step"] + 1]
    return {
        "steps": max(row["step"] for row in steps),
        "first_loss": round(steps[0]["loss"], 4),
        "last_loss": round(steps[-1]["loss"], 4),
        "step_s_median": round(sorted(times)[len(times) // 2], 3) if times else None,
        "eval_loss": [round(row["eval_loss"], 4) for row in rows if "eval_loss" in row],
        "gpu_peak_gib": max((row.get("gpu_peak_gib", 0) for row in rows), default=0),
    }

seconds = dict(line.split() for line in (out / "stage_seconds.txt").read_text().splitlines())
sft = metrics("sft")
losses = {r["step"]: r["loss"] for r in map(json.loads, (out / "sft/metrics.jsonl").read_text().splitlines()) if "loss" in r}
report = {
    "stage_end_s": {k: int(v) for k, v in seconds.items()},
    "sft": sft,
    "sft_resumed_steps_logged_once": sorted(losses) == list(range(1, sft["steps"] + 1)),
    "dpo": metrics("dpo"),
    "export_s": round(export_s, 1),
    "llama_cpp_gpu_layers": placement().gpu_layers,
    "export": {r.quant: {"kept": r.path is not None,
                         "top1_agreement_decided": round(r.check.decided_agreement, 4),
                         "mean_kl": round(r.check.mean_kl, 5)} for r in results},
}
(out / "smoke.json").write_text(json.dumps(report) + "\n")
print(json.dumps(report))
if not all(r.path for r in results) or not report["sft_resumed_steps_logged_once"]:
    sys.exit("smoke run failed: see the report above")
EOF
