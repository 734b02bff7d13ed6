#!/usr/bin/env bash
# Set up, then decode a sudoku with the bundled model: DUS against token-by-token confidence, reveal order coloured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/unmask generate --escapes "Solve the sudoku:\n0020\n3000\n0003\n1200\nSolution:\n" \
    --planner dilated --block-length 8 --gen-length 32 --compare confidence
