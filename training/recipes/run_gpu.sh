#!/usr/bin/env bash
# End to end on GPUs: Llama-3.1-8B -> a LongWriter-style 8B, then GGUF for the studio.
#   bash training/recipes/run_gpu.sh runs/gpu            (one node of 8 GPUs)
# Inputs you provide:
#   $RUN/instructions.jsonl        writing instructions ({"instruction", "words"}), e.g. ~6,000
#   $RUN/general.jsonl             general SFT conversations ({"messages": [...]})
#   $RUN/general_pairs.jsonl       general preference pairs (optional, see gpu/dpo.yaml)
#   an OpenAI-compatible server for AgentWrite (vLLM: `vllm serve MODEL --port 8000`)
# For 1 GPU use GPUS=1 (ZeRO-3 with CPU offload); for 2 nodes x 8 see ../recipes/README.md.
set -euo pipefail
export RUN="${1:-runs/gpu}" SCALE=gpu
here="$(cd "$(dirname "$0")" && pwd)"
case "${GPUS:-8}" in
  1) accel="$here/gpu/accelerate_1gpu.yaml" ;;
  8) accel="$here/gpu/accelerate_8gpu.yaml" ;;
  *) echo "GPUS must be 1 or 8 here; see README for 2x8" >&2; exit 2 ;;
esac
export LAUNCH="accelerate launch --config_file $accel -m app"

INSTRUCTIONS="$RUN/instructions.jsonl" CONCURRENCY="${CONCURRENCY:-64}" \
  MODEL_ARGS="${WRITER_ARGS:---base-url http://127.0.0.1:8000/v1 --model-name writer}" \
  bash "$here/1_agentwrite.sh"
# a 10 % long share by default: our choice, not the paper's 3.2 % (see gpu/longwriter8b/)
GENERAL="$RUN/general.jsonl" LONG_SHARE="${LONG_SHARE:-0.1}" \
  TOKENIZER=meta-llama/Llama-3.1-8B-Instruct PACK_LENGTH=32768 bash "$here/2_prepare.sh"
bash "$here/3_sft.sh"
# serve the SFT model for sampling, e.g.: vllm serve $RUN/sft/final --served-model-name sft --port 8001
PREFERENCE_INSTRUCTIONS="$RUN/instructions.jsonl" K="${K:-4}" MAX_TOKENS=32000 \
  SAMPLER_ARGS="${SAMPLER_ARGS:---base-url http://127.0.0.1:8001/v1 --model-name sft}" \
  bash "$here/4_preferences.sh"
bash "$here/5_dpo.sh"
bash "$here/6_export.sh"
