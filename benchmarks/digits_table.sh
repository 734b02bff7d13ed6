#!/usr/bin/env bash
# The planner table of the bundled model on digits (model card and BENCHMARKS.md): token-by-token, DUS, NFE-matched
# confidence / margin / entropy / random / PC-Sampler, binary, threshold, EB, KLASS, Credit, WINO and verified EB at
# each block length (digits answers are 16 positions, so B = 4 / 8 / 16). Resumable: rerun to continue. One process
# per block length spreads the work over cores:
#   for b in 4 8 16; do BLOCKS=$b bash benchmarks/digits_table.sh & done; wait
# Usage: [LIMIT=500] [BLOCKS=4,8,16] [MODEL=DIR] [OUT=DIR] bash benchmarks/digits_table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=${BLOCKS:-4,8,16}
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/unmask sweep --task digits ${MODEL:+--model "$MODEL"} \
    --planners dilated,binary,margin,entropy,random,pc_sampler,threshold,entropy_bound,klass,credit,wino,verified_eb \
    --block-lengths "$blocks" --taus 0.6,0.9 --gammas 0.1,0.5 --limit "${LIMIT:-500}" --batch-size 100 \
    --out "${OUT:-runs/card}/digits-b${blocks//,/-}"
