#!/usr/bin/env bash
# The planner table of the bundled model on digits (model card and BENCHMARKS.md): token-by-token, DUS, NFE-matched
# confidence / margin / entropy / random, binary, threshold 0.9 and EB 0.1 at each block length. Resumable: rerun to
# continue. One process per block length spreads the work over cores:
#   for b in 8 16 32; do BLOCKS=$b bash benchmarks/digits_table.sh & done; wait
# Usage: [LIMIT=500] [BLOCKS=8,16,32] [MODEL=DIR] bash benchmarks/digits_table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=${BLOCKS:-8,16,32}
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/unmask sweep --task digits ${MODEL:+--model "$MODEL"} \
    --planners dilated,binary,margin,entropy,random,threshold,entropy_bound --block-lengths "$blocks" \
    --taus 0.9 --gammas 0.1 --limit "${LIMIT:-500}" --batch-size 100 --out "runs/card/digits-b${blocks//,/-}"
