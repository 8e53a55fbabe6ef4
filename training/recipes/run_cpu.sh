#!/usr/bin/env bash
# CPU miniature of run_gpu.sh: the same stages at toy size (minutes, no GPU).
# Model: a tiny random Llama-architecture model over the embedded SmolLM2 tokenizer.
#   bash training/recipes/run_cpu.sh runs/cpu
set -euo pipefail
export RUN="${1:-runs/cpu}" SCALE=cpu OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$RUN"
bash "$here/1_agentwrite.sh"
bash "$here/2_prepare.sh"
bash "$here/3_sft.sh"
bash "$here/4_preferences.sh"
bash "$here/5_dpo.sh"
