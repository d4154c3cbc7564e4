#!/usr/bin/env bash
# The main job on the embedded defaults: factor values and human factor scores on the shipped
# SummEval expert ratings (20 CNN/DM articles x 16 systems, pairs by mean expert rating).
set -euo pipefail
RUN=${1:-runs/demo}
BIN=${BIN:-.venv/bin}
mkdir -p "$RUN"
"$BIN/profile-align" factors summeval --task summarization -o "$RUN/factors.parquet"
"$BIN/profile-align" score summeval --judge human --factors "$RUN/factors.parquet" -o "$RUN/scores_human.json"
echo "run directory: $RUN"
