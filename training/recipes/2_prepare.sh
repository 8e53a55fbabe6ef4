#!/usr/bin/env bash
# Stage 2 — tokenize with the model's chat template, label assistant tokens (EOS included),
# mix in general chat data, split rows longer than the pack length, plot lengths.
# GPU scale (run_gpu.sh): AgentWrite long data + general SFT data at a 10 % long share, our
# choice; the paper's mix (6k of ~186k, 3.2 %) is in gpu/longwriter8b/run.sh. 32k packs.
# Tokenizes on every core (WORKERS); EVAL_FRACTION holds out conversations for eval loss.
set -euo pipefail
: "${RUN:?set RUN to the run folder}" "${SCALE:=cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
${LONGWRITE:-longwrite} data prepare \
  --long "$RUN/long.jsonl" --general "${GENERAL:-$here/$SCALE/general.jsonl}" \
  --long-share "${LONG_SHARE:-0.5}" --tokenizer "${TOKENIZER:-embedded}" \
  --max-length "${PACK_LENGTH:-2048}" --overlong split --out "$RUN/sft_data" \
  --workers "${WORKERS:-$(nproc)}" --eval-fraction "${EVAL_FRACTION:-0}"
