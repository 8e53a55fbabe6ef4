#!/usr/bin/env bash
# End to end on GPUs: Llama-3.1-8B -> a LongWriter-style 8B, then GGUF for the studio.
#   bash training/recipes/run_gpu.sh runs/gpu             (one node of 8 GPUs)
#   bash training/recipes/run_gpu.sh runs/gpu --dry-run   (print the phases and commands only)
# Inputs you provide:
#   $RUN/instructions.jsonl        writing instructions ({"instruction", "words"}), e.g. ~6,000
#   $RUN/general.jsonl             general SFT conversations ({"messages": [...]})
#   $RUN/general_pairs.jsonl       general preference pairs (optional, see gpu/dpo.yaml)
# Phases, in this order, on the same GPUs:
#   1 serve the writer model with vLLM, AgentWrite data, stop the writer
#   2 prepare (tokenize, pack length 32k)   3 SFT (accelerate + ZeRO-3)
#   4 serve sft/final with vLLM, preference pairs, stop that server
#   5 DPO (accelerate + ZeRO-3)             6 GGUF export (llama.cpp on the GPUs for --check-long)
# A vLLM server takes ~90 % of every GPU's memory: each one is stopped (and waited for) before
# the next phase, so no training launch ever meets a server this script started.
# WRITER_ARGS / SAMPLER_ARGS point stage 1 / 4 at a server of your own instead (none is started).
# For 1 GPU use GPUS=1 (ZeRO-3 with CPU offload); for 2 nodes x 8 see README.md.
set -euo pipefail
export RUN="${1:-runs/gpu}" SCALE=gpu
DRY_RUN=""
[ "${2:-}" = "--dry-run" ] && DRY_RUN=1
here="$(cd "$(dirname "$0")" && pwd)"
case "${GPUS:-8}" in
  1) accel="$here/gpu/accelerate_1gpu.yaml" ;;
  8) accel="$here/gpu/accelerate_8gpu.yaml" ;;
  *) echo "GPUS must be 1 or 8 here; see README for 2x8" >&2; exit 2 ;;
esac
export LAUNCH="${LAUNCH:-accelerate launch --config_file $accel -m app}"
WRITER_MODEL="${WRITER_MODEL:-meta-llama/Llama-3.1-70B-Instruct}"  # any chat model vLLM serves
VLLM="${VLLM:-vllm}"
if [ -n "$DRY_RUN" ]; then  # the stage scripts print their commands instead of running them
  export LONGWRITE="echo ${LONGWRITE:-longwrite}" LAUNCH="echo $LAUNCH"
fi

server_pid=""
phase() { echo "== phase $1" >&2; }

serve() {  # serve NAME MODEL PORT: start vLLM in its own process group, wait until it answers
  local name=$1 model=$2 port=$3
  echo "serve $name: $VLLM serve $model --served-model-name $name --port $port" >&2
  [ -n "$DRY_RUN" ] && return
  setsid $VLLM serve "$model" --served-model-name "$name" --port "$port" \
    --tensor-parallel-size "${GPUS:-8}" >"$RUN/vllm-$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 "${SERVER_WAIT_S:-1800}"); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null; then return; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "vLLM $name exited; see $RUN/vllm-$name.log" >&2; exit 1; }
    sleep 1
  done
  echo "vLLM $name did not answer in time" >&2; exit 1
}

stop_server() {  # stop the server this script started, and wait until its processes are gone
  [ -n "$DRY_RUN" ] && echo "stop $1" >&2
  [ -z "$server_pid" ] && return
  echo "stop $1" >&2
  kill -TERM -- "-$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  while kill -0 -- "-$server_pid" 2>/dev/null; do sleep 1; done  # its workers hold GPU memory
  server_pid=""
}
trap '[ -n "$server_pid" ] && stop_server "the server left at exit"' EXIT

mkdir -p "$RUN"
phase "1 agentwrite"
writer_args="${WRITER_ARGS:-}"
if [ -z "$writer_args" ]; then
  serve writer "$WRITER_MODEL" 8000
  writer_args="--base-url http://127.0.0.1:8000/v1 --model-name writer"
fi
INSTRUCTIONS="$RUN/instructions.jsonl" CONCURRENCY="${CONCURRENCY:-64}" \
  MODEL_ARGS="$writer_args" bash "$here/1_agentwrite.sh"
stop_server writer

phase "2 prepare"
# a 10 % long share by default: our choice, not the paper's 3.2 % (see gpu/longwriter8b/)
# 1 % of the conversations held out: eval loss every 200 steps (gpu/sft.yaml)
GENERAL="$RUN/general.jsonl" LONG_SHARE="${LONG_SHARE:-0.1}" EVAL_FRACTION="${EVAL_FRACTION:-0.01}" \
  TOKENIZER=meta-llama/Llama-3.1-8B-Instruct PACK_LENGTH=32768 bash "$here/2_prepare.sh"

phase "3 sft"
bash "$here/3_sft.sh"

phase "4 preferences"
sampler_args="${SAMPLER_ARGS:-}"
if [ -z "$sampler_args" ]; then
  serve sft "$RUN/sft/final" 8001
  sampler_args="--base-url http://127.0.0.1:8001/v1 --model-name sft"
fi
PREFERENCE_INSTRUCTIONS="$RUN/instructions.jsonl" K="${K:-4}" MAX_TOKENS=32000 \
  SAMPLER_ARGS="$sampler_args" bash "$here/4_preferences.sh"
stop_server sft

phase "5 dpo"
bash "$here/5_dpo.sh"

phase "6 export"
bash "$here/6_export.sh"
