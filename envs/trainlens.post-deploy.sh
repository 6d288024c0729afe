#!/usr/bin/env bash
# Snakemake runs this inside the freshly created env, from its working directory (the repository
# root, where the Snakefile is): install trainlens itself; the dependencies are the env's pins.
set -euo pipefail
python -m pip install --no-deps -e .
