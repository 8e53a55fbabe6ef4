#!/usr/bin/env bash
# Stage 4 — preference pairs: k replies per instruction from the SFT model, scored by length
# (and by a judge when JUDGE_ARGS is set, e.g. "--judge-base-url URL --judge-model NAME"),
# best = chosen, a random other = rejected.
# GPU scale: serve $RUN/sft/final with vLLM and pass SAMPLER_ARGS="--base-url … --model-name …".
set -euo pipefail
: "${RUN:?set RUN to the run folder}" "${SCALE:=cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
${LONGWRITE:-longwrite} data preferences \
  --instructions "${PREFERENCE_INSTRUCTIONS:-$here/$SCALE/instructions.txt}" \
  ${SAMPLER_ARGS:---checkpoint $RUN/sft/final} -k "${K:-3}" \
  --max-tokens "${MAX_TOKENS:-200}" ${JUDGE_ARGS:-} --out "$RUN/pairs.jsonl"
