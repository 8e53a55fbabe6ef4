#!/usr/bin/env bash
# Stage 3 — supervised fine-tuning (TRL SFTTrainer) with best-fit packing and per-token loss.
# Settings live in $SCALE/sft.yaml. On GPUs, LAUNCH starts one process per GPU, e.g.
#   LAUNCH="accelerate launch --config_file training/recipes/gpu/accelerate_8gpu.yaml -m app"
set -euo pipefail
: "${RUN:?set RUN to the run folder}" "${SCALE:=cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
${LAUNCH:-${LONGWRITE:-longwrite}} train sft "${SFT_RECIPE:-$here/$SCALE/sft.yaml}" ${RESUME:+--resume} ${TRAIN_ARGS:-}
