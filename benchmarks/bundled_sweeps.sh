#!/usr/bin/env bash
# The bundled model's quality sweeps: the model card table (500 fresh records per task) and the full planner grid
# of BENCHMARKS.md (128 fresh records per task; the grid runs on the tasks the model has learned, sudoku and digits).
# Results land in runs/; both are resumable (rerun to continue).
# Usage: [CARD_LIMIT=N] bash benchmarks/bundled_sweeps.sh card|grid [task ...]
set -euo pipefail
what=${1:?card or grid}
shift
if [ "$what" = card ]; then default="sudoku countdown3 arith"; else default="sudoku digits"; fi
tasks=${*:-$default}
for task in $tasks; do
    if [ "$what" = card ]; then
        unmask sweep --task "$task" --planners dilated,threshold --block-lengths 8,16,32 --taus 0.9 \
            --limit "${CARD_LIMIT:-500}" --batch-size 32 --out "runs/card/$task"
    else
        if [ "$task" = digits ]; then blocks=4,8,16; else blocks=4,8,16,32; fi  # digits answers: 16 positions
        unmask sweep --task "$task" \
            --planners dilated,binary,margin,entropy,random,left_to_right,pc_sampler,threshold,entropy_bound,klass,credit,wino,verified_eb \
            --block-lengths "$blocks" --taus 0.7,0.8,0.9 --gammas 0.1,0.5,1 --start-strides 0,2 \
            --limit 128 --batch-size 32 --out "runs/grid/$task"
    fi
done
