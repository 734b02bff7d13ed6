"""Batching that stays fast as rows finish: tokens/s at batch 1, 8 and 32 with EOS early stop on task prompts.

Finished rows leave the batch, so they cost no calls; the script reports answer tokens per second, calls, the share
of row-calls saved by early stop, and peak RSS.

    python benchmarks/batching.py
"""

from __future__ import annotations

import time

from common import parser, peak_rss_mb, save, setup, task_prompts

import unmask
from unmask.config import DecodeConfig
from unmask.planners import dilated_groups
from unmask.tasks import get_task


def main():
    p = parser(__doc__)
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--block-length", type=int, default=16)
    args = p.parse_args()
    model = setup(args)
    rows = []
    for task_name in ("arith", "countdown", "sudoku"):
        task = get_task(task_name)
        prompts = task_prompts(task_name, args.prompts)
        for batch in (1, 8, 32):
            unmask.generate(model, prompts[:batch], planner="dilated", gen_length=task.gen_length,
                            block_length=args.block_length)  # warm-up
            start = time.perf_counter()
            tokens = row_calls = 0
            for i in range(0, len(prompts), batch):
                result = unmask.generate(model, prompts[i : i + batch], planner="dilated",
                                         gen_length=task.gen_length, block_length=args.block_length)
                row_calls += int(result.nfe.sum())
                for row in result.tokens.tolist():
                    tokens += next((j for j, t in enumerate(row) if t in model.stop_ids), len(row))
            seconds = time.perf_counter() - start
            blocks = DecodeConfig(gen_length=task.gen_length, block_length=args.block_length).block_lengths()
            without_stop = len(prompts) * sum(len(dilated_groups(n)) for n in blocks)
            rows.append({"task": task_name, "batch": batch, "seconds": seconds, "tokens_per_second": tokens / seconds,
                         "row_calls": row_calls, "row_calls_without_early_stop": without_stop,
                         "peak_rss_mb": peak_rss_mb()})
            print(f"{task_name:<9} batch {batch:>2}: {tokens / seconds:8.1f} answer tok/s, {row_calls}/{without_stop} "
                  f"row-calls, {seconds:.2f}s, peak RSS {peak_rss_mb():.0f} MB", flush=True)
    save("batching", {"prompts": args.prompts, "block_length": args.block_length, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
