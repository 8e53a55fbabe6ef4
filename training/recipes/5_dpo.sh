#!/usr/bin/env bash
# Stage 5 — DPO (TRL DPOTrainer) on the pairs, from the SFT checkpoint. Settings: $SCALE/dpo.yaml.
set -euo pipefail
: "${RUN:?set RUN to the run folder}" "${SCALE:=cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
${LAUNCH:-${LONGWRITE:-longwrite}} train dpo "${DPO_RECIPE:-$here/$SCALE/dpo.yaml}" ${RESUME:+--resume} ${TRAIN_ARGS:-}
