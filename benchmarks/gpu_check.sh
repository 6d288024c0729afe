#!/usr/bin/env bash
# The GPU check on a machine with a CUDA device and a Python that has PyTorch:
#
#   OUT=/some/folder benchmarks/gpu_check.sh [extra gpu_check arguments]
#
# runs `python -m benchmarks.gpu_check --device ${DEVICE:-cuda} --out $OUT` (cost, determinism,
# benchmarks; add `--sections cost determinism benchmarks e1a` for E1a end to end) under a hard
# limit of ${LIMIT_S:-470} s, and keeps its log in $OUT/gpu_check.log. Tables are written as each
# section ends, so a run stopped at the limit still leaves what it measured.
#
# Packages: trainlens needs numpy, pandas, pyarrow, scipy, pyyaml, tqdm, torchvision and
# jsonschema; snakemake is not needed. An image without jsonschema (the device machines' own) gets
# it from wheels in .whl/, built beforehand on a machine with a package index:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 \
#     rpds-py==0.30.0
#
# (attrs and typing-extensions, their other needs, are in that image). This script installs them
# into /tmp/site when jsonschema is missing and .whl/ holds them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
if ! "$PY" -c "import jsonschema" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "gpu_check.sh: jsonschema is missing and .whl/ holds no wheels (see this script's header)" >&2
    exit 2
  fi
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
timeout "${LIMIT_S:-470}" "$PY" -m benchmarks.gpu_check --device "${DEVICE:-cuda}" --out "$OUT" "$@" \
  2>&1 | tee "$OUT/gpu_check.log"
