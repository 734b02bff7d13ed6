"""Speed-up equals call savings: wall-clock of dilated vs token-by-token confidence, measured side by side.

G=256 (EOS early stop off), B in {8, 16, 32}; the two planners alternate run by run so machine noise hits both.
Target: wall speed-up >= 0.95 x the NFE ratio (2.67 / 4 / 6.4).

    python benchmarks/speedup.py
"""

from __future__ import annotations

import time

from common import parser, save, setup, task_prompts

import unmask


def main():
    p = parser(__doc__)
    p.add_argument("--gen-length", type=int, default=256)
    p.add_argument("--block-lengths", default="8,16,32")
    p.add_argument("--batch", type=int, default=1)
    args = p.parse_args()
    model = setup(args)
    prompts = task_prompts("arith", args.batch)
    rows = []
    for block in [int(b) for b in args.block_lengths.split(",")]:
        runs = {"dilated": [], "confidence": []}
        calls = {}
        for repeat in range(args.repeats + 1):  # the first round is a warm-up
            for planner in ("confidence", "dilated") if repeat % 2 else ("dilated", "confidence"):
                start = time.perf_counter()
                result = unmask.generate(model, prompts, planner=planner, gen_length=args.gen_length,
                                         block_length=block, eos_early_stop=False)
                if repeat:
                    runs[planner].append(time.perf_counter() - start)
                calls[planner] = result.calls
        median = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
        nfe_ratio = calls["confidence"] / calls["dilated"]
        wall_ratio = median["confidence"] / median["dilated"]
        rows.append({"block_length": block, "calls": calls, "seconds": median, "nfe_ratio": nfe_ratio,
                     "wall_ratio": wall_ratio, "efficiency": wall_ratio / nfe_ratio})
        print(f"B={block:>2} NFE {calls['confidence']}/{calls['dilated']} = {nfe_ratio:.2f}x  wall "
              f"{median['confidence']:.3f}/{median['dilated']:.3f}s = {wall_ratio:.2f}x  "
              f"efficiency {wall_ratio / nfe_ratio:.3f}", flush=True)
    save("speedup", {"gen_length": args.gen_length, "batch": args.batch, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
