#!/usr/bin/env bash
# A voice for a LongWriter model, trained on one GPU with QLoRA (the base in 4-bit NF4, bf16
# compute, activation checkpointing, LoRA rank 16 on every linear layer, lr 2e-4 as in the
# QLoRA paper for 7B-13B models):
#   bash training/recipes/gpu/voice_qlora.sh llama|glm RUN MANUSCRIPT [MANUSCRIPT...]
#     llama  THUDM/LongWriter-llama3.1-8b
#     glm    THUDM/LongWriter-glm4-9b (THUDM's own layout, converted once into transformers')
#   MANUSCRIPT: .md/.txt/.docx files or studio project names (as `voice data --from` takes)
#   BASE=DIR    a local copy of the checkpoint (else the hub id, downloaded on first use)
#   STEPS=N     training steps (default 200)
# GPU memory, estimated (training/voice/memory.py; `voice train --qlora` prints it for your
# data's longest row before it loads anything), by the longest row in tokens:
#              2,048   4,096   8,192   10,240
#   llama 8B   11.2    14.9    22.3    26.0  GB
#   glm 9B     12.9    17.2    25.7    30.0  GB
# A 24 GB card holds rows of up to about 8k tokens (8B) or 7k (9B); pieces of 6,000 words make
# rows of about 10k tokens, which need a 40 GB card or more.
# Disk: the base's f16 GGUF (16-19 GB) for the adapter's check and a q4_k_m GGUF to write with.
# RAM: the export's check compares with the merged model in float32 (32-38 GB).
set -euo pipefail
case "${1:-}" in
  llama) hub=THUDM/LongWriter-llama3.1-8b name=LongWriter-llama3.1-8b ;;
  glm) hub=THUDM/LongWriter-glm4-9b name=LongWriter-glm4-9b ;;
  *) echo "usage: voice_qlora.sh llama|glm RUN MANUSCRIPT..." >&2; exit 2 ;;
esac
RUN="${2:?usage: voice_qlora.sh llama|glm RUN MANUSCRIPT...}"
shift 2
[ $# -gt 0 ] || { echo "give at least one manuscript (a file or a project name)" >&2; exit 2; }
BASE="${BASE:-$hub}"
LONGWRITE="${LONGWRITE:-longwrite}"
sources=()
for manuscript in "$@"; do sources+=(--from "$manuscript"); done

# 1. the base as GGUF files: f16 to check the adapter on, q4_k_m to write with
$LONGWRITE export gguf "$BASE" --quant f16,q4_k_m --name "$name" -o "$RUN/models"
f16="$(ls "$RUN"/models/*-F16.gguf)"
q4="$(ls "$RUN"/models/*-Q4_K_M.gguf)"
# 2. back-translate the manuscripts into the studio's own requests (resumable)
$LONGWRITE voice data "${sources[@]}" -o "$RUN/voice-data" --model "$q4" --gpu-layers auto
# 3. QLoRA on the base checkpoint (a rerun resumes from the last checkpoint)
$LONGWRITE voice train "$RUN/voice-data" --base "$BASE" --qlora --rank 16 \
  --learning-rate 2e-4 --steps "${STEPS:-200}" --save-steps 50 -o "$RUN/voice"
# 4. the adapter for the f16 base, checked there in llama.cpp; it fits the q4_k_m file too
$LONGWRITE export gguf-lora "$RUN/voice" --base-gguf "$f16" -o "$RUN/models/$name-voice.gguf"
echo "Write with it: $LONGWRITE studio --model $q4 --voice $RUN/models/$name-voice.gguf" >&2
