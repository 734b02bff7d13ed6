#!/usr/bin/env bash
# The bundled model's quality sweeps: the model card table (500 fresh records per task) and the full planner grid
# of BENCHMARKS.md (128 fresh records per task). Results land in runs/; both are resumable (rerun to continue).
# Usage: [CARD_LIMIT=N] bash benchmarks/bundled_sweeps.sh card|grid [task ...]
set -euo pipefail
what=${1:?card or grid}
shift
if [ "$what" = card ]; then default="sudoku countdown3 arith"; else default="sudoku countdown3 arith countdown"; fi
tasks=${*:-$default}
for task in $tasks; do
    if [ "$what" = card ]; then
        unmask sweep --task "$task" --planners dilated,threshold --block-lengths 8,16,32 --taus 0.9 \
            --limit "${CARD_LIMIT:-500}" --batch-size 32 --out "runs/card/$task"
    else
        unmask sweep --task "$task" \
            --planners dilated,binary,margin,entropy,random,left_to_right,threshold,entropy_bound \
            --block-lengths 4,8,16,32 --taus 0.7,0.8,0.9 --gammas 0.1,0.5,1 --start-strides 0,2 \
            --limit 128 --batch-size 32 --out "runs/grid/$task"
    fi
done
