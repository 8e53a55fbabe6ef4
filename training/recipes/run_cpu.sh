#!/usr/bin/env bash
# CPU miniature of run_gpu.sh: the same stages at toy size (minutes, no GPU).
# Model: a tiny random Llama-architecture model over the embedded SmolLM2 tokenizer.
#   bash training/recipes/run_cpu.sh runs/cpu
set -euo pipefail
# One CPU thread per process (torch and llama.cpp): on a small or shared CPU, extra threads
# mostly wait for each other (llama.cpp measured 17 tok/s on 1 thread vs 2 tok/s on 2 here).
export RUN="${1:-runs/cpu}" SCALE=cpu OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MODEL_ARGS="${MODEL_ARGS:---threads $OMP_NUM_THREADS}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$RUN"
for stage in 1_agentwrite 2_prepare 3_sft 4_preferences 5_dpo; do
  started=$SECONDS
  bash "$here/$stage.sh"
  echo "$stage: $((SECONDS - started)) s" | tee -a "$RUN/stage_times.txt" >&2
done
