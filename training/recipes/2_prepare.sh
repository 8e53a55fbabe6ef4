#!/usr/bin/env bash
# Stage 2 — tokenize with the model's chat template, label assistant tokens (EOS included),
# mix in general chat data, split rows longer than the pack length, plot lengths.
# GPU scale: LongWriter-6k-style long data + general SFT data at the paper's mix, 32k packs.
set -euo pipefail
: "${RUN:?set RUN to the run folder}" "${SCALE:=cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
${LONGWRITE:-longwrite} data prepare \
  --long "$RUN/long.jsonl" --general "${GENERAL:-$here/$SCALE/general.jsonl}" \
  --long-share "${LONG_SHARE:-0.5}" --tokenizer "${TOKENIZER:-embedded}" \
  --max-length "${PACK_LENGTH:-2048}" --overlong split --out "$RUN/sft_data"
