#!/usr/bin/env bash
# The main job: a real PROFILE analysis with the embedded local model on a small sample of the shipped
# SummEval expert ratings (human vs the local model as evaluator and as generator). Resumable: rerun
# to reuse every finished answer from RUN_DIR/cache.sqlite.
set -euo pipefail
RUN=${1:-runs/demo}
BIN=${BIN:-.venv/bin}
CONFIG=${CONFIG:-examples/demo.yaml}
start=$(date +%s)
"$BIN/profile-align" run "$CONFIG" --out "$RUN"
echo "demo finished in $(( $(date +%s) - start )) s; run directory: $RUN"
