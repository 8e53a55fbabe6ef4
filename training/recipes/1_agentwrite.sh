#!/usr/bin/env bash
# Stage 1 — long-output SFT data with AgentWrite: plan each instruction, write it section by
# section, keep outputs that are long enough, have a sane plan and no "Paragraph N" leftovers.
# GPU scale: a vLLM server (MODEL_ARGS="--base-url http://127.0.0.1:8000/v1 --model-name NAME"),
# many instructions, --concurrency 64. CPU miniature: the embedded GGUF, two instructions.
# A rerun with RESUME=1 continues from the step cache beside the output file.
set -euo pipefail
: "${RUN:?set RUN to the run folder}" "${SCALE:=cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
${LONGWRITE:-longwrite} data agentwrite \
  --instructions "${INSTRUCTIONS:-$here/$SCALE/instructions.txt}" \
  --out "$RUN/long.jsonl" ${MODEL_ARGS:-} --concurrency "${CONCURRENCY:-1}" ${RESUME:+--resume}
