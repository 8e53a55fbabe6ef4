#!/usr/bin/env bash
# Stage 6 — convert the final checkpoint to GGUF for the studio (`longwrite export gguf`,
# see its --help for quantization choices).
set -euo pipefail
: "${RUN:?set RUN to the run folder}"
${LONGWRITE:-longwrite} export gguf "$RUN/dpo/final" ${EXPORT_ARGS:-}
