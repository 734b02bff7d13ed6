#!/usr/bin/env bash
# The speed benchmarks of BENCHMARKS.md, in the order and with the settings used there (idle machine, 2 threads).
# Each writes benchmarks/results/<name>.json and prints its table.
set -euo pipefail
cd "$(dirname "$0")"
python model_speed.py
python overhead.py --repeats 1
python speedup.py --repeats 3
python reference_loop.py
python batching.py
python cache.py --tasks sudoku --samples 32 --batch 16
python profile_decode.py --planner dilated --batch 16
python profile_decode.py --planner confidence --batch 1 --gen-length 64
