#!/usr/bin/env bash
# CPU miniature of run_gpu.sh: the same stages at toy size (minutes, no GPU).
# Model: a tiny random Llama-architecture model over the embedded SmolLM2 tokenizer.
#   bash training/recipes/run_cpu.sh runs/cpu
#   PROCS=2 bash training/recipes/run_cpu.sh runs/cpu2   (SFT and DPO sharded over 2 processes)
set -euo pipefail
# One CPU thread per process (torch and llama.cpp): on a small or shared CPU, extra threads
# mostly wait for each other (llama.cpp measured 17 tok/s on 1 thread vs 2 tok/s on 2 here).
export RUN="${1:-runs/cpu}" SCALE=cpu OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MODEL_ARGS="${MODEL_ARGS:---threads $OMP_NUM_THREADS}"
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${PROCS:-1}" -gt 1 ]; then
  # FSDP full_shard over PROCS processes talking gloo, saved by the GPU recipe's own path.
  # torchrun, not `accelerate launch --cpu --num_processes N`: that starts one process on a CPU.
  export LAUNCH="${PYTHON:-python3} -m torch.distributed.run --standalone --nproc_per_node $PROCS -m app"
  export TRAIN_ARGS="--fsdp $here/cpu/fsdp.json"
fi
mkdir -p "$RUN"
for stage in 1_agentwrite 2_prepare 3_sft 4_preferences 5_dpo; do
  started=$SECONDS
  bash "$here/$stage.sh"
  echo "$stage: $((SECONDS - started)) s" | tee -a "$RUN/stage_times.txt" >&2
done
