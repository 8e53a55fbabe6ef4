#!/usr/bin/env bash
# Faithful mode: reproduce the released LongWriter-8B SFT on one node of 8 GPUs.
#   bash training/recipes/gpu/longwriter8b/run.sh runs/longwriter8b
# Inputs you provide:
#   $RUN/longwriter-6k.jsonl   the released LongWriter-6k data ({"messages": [...]} rows)
#   $RUN/general.jsonl         general chat SFT rows; the paper used ~180k (GLM-4's own set)
# DPO is a separate, optional stage (see ../../README.md, "Faithful mode").
set -euo pipefail
export RUN="${1:-runs/longwriter8b}"
here="$(cd "$(dirname "$0")" && pwd)"
# the paper's mix: 6k long rows among 180k general ones, a long share of 6/186; tokenized on
# every core (one process renders ~186k chat templates for hours)
${LONGWRITE:-longwrite} data prepare \
  --long "$RUN/longwriter-6k.jsonl" --general "$RUN/general.jsonl" --long-share 0.0323 \
  --tokenizer meta-llama/Llama-3.1-8B-Instruct --max-length 32768 --overlong drop \
  --out "$RUN/sft_data" --workers "${WORKERS:-$(nproc)}"
accelerate launch --config_file "$here/../accelerate_8gpu.yaml" \
  -m app train sft "$here/sft.yaml" ${RESUME:+--resume}
