#!/usr/bin/env bash
# GPU check (issue 16): engine bf16/fp16 and fp32 vs the reference script on ag_news, samples/s, peak memory, MFU,
# and a real out-of-memory with its retry. Offline; under 8 minutes on one GPU.
#
#   bash benchmarks/gpu_check.sh            on the GPU host (Python 3.12 with torch, transformers, accelerate, peft)
#   bash benchmarks/gpu_check.sh --cpu      a few steps of the same path on the CPU (run by the test suite)
#   bash benchmarks/gpu_check.sh --prepare  on a machine with the package index: fill benchmarks/gpu_extras
#                                           (ignored by git) with the missing wheels, ag_news and the tokenizer
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=benchmarks/gpu_extras
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# What the studio's training path imports beyond torch, transformers, accelerate and peft.
NEEDED="datasets platformdirs scikit-learn scipy seqeval safetensors tqdm tomli-w"

if [ "${1:-}" = "--prepare" ]; then
    mkdir -p "$EXTRAS/wheels" "$EXTRAS/data/ag_news" "$EXTRAS/tokenizer"
    # Wheels for the GPU host (CPython 3.12, manylinux x86_64); what it already has is not downloaded.
    "$PY" -m pip download -q --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d "$EXTRAS/wheels" $NEEDED
    cp ../shared/data/ag_news/train.csv ../shared/data/ag_news/test.csv "$EXTRAS/data/ag_news/"
    "$PY" -c "from transformers import AutoTokenizer; from studio.core.modeling import builtin_model_path; \
AutoTokenizer.from_pretrained(builtin_model_path()).save_pretrained('$EXTRAS/tokenizer')"
    du -sh "$EXTRAS"
    exit 0
fi

# Install from the extras only what this Python lacks (never from the network).
missing=""
for module in datasets platformdirs sklearn scipy seqeval safetensors tqdm tomli_w; do
    "$PY" -c "import $module" 2>/dev/null || missing="$missing $module"
done
if [ -n "$missing" ]; then
    if [ -d "$EXTRAS/wheels" ]; then
        "$PY" -m pip install -q --no-index --find-links "$EXTRAS/wheels" $NEEDED
    else
        echo "error: this Python lacks$missing and $EXTRAS/wheels is absent; run 'bash benchmarks/gpu_check.sh --prepare' on a machine with the package index and copy $EXTRAS here." >&2
        exit 2
    fi
fi
exec "$PY" benchmarks/gpu_check.py "$@"
