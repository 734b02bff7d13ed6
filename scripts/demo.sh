#!/usr/bin/env bash
# Set up, then the bundled model on 100 fresh sudoku puzzles: accuracy (95% interval), calls per answer and wall time
# for token-by-token, DUS, NFE-matched confidence and the best adaptive planner; then one puzzle's answers coloured by
# the call that revealed each token, marked right or wrong. Arguments go to `python -m unmask.demo`
# (e.g. --task sudoku,countdown3 for one table per task, --n 200).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m unmask.demo "$@"
