"""Overhead at the floor: decode seconds / (calls x seconds of one model forward at the same shape).

G=256, B=32, planners dilated, confidence (one token per call) and threshold, at batch 1 and 16, EOS early stop off
so that every row makes the same calls. 1.00 means the loop adds nothing around the model calls.

    python benchmarks/overhead.py
"""

from __future__ import annotations

from common import forward_seconds, median_time, parser, save, setup, task_prompts

import unmask


def main():
    p = parser(__doc__)
    p.add_argument("--gen-length", type=int, default=256)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--batches", default="1,16")
    args = p.parse_args()
    model = setup(args)
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        prompts = task_prompts("arith", batch)
        for planner, options in (("dilated", {}), ("confidence", {}), ("threshold", {"tau": 0.9})):
            run = lambda: unmask.generate(model, prompts, planner=planner, gen_length=args.gen_length,  # noqa: E731
                                          block_length=args.block_length, eos_early_stop=False, **options)
            seconds, result = median_time(run, args.repeats)
            calls = result.calls
            length = result.tokens.shape[1] + max(len(model.tokenizer(q)["input_ids"]) for q in prompts)
            forward = forward_seconds(model, batch, length, repeats=max(5, args.repeats))
            ratio = seconds / (calls * forward)
            rows.append({"batch": batch, "planner": planner, "calls": calls, "decode_seconds": seconds,
                         "forward_seconds": forward, "overhead_ratio": ratio})
            print(f"batch {batch:>2} {planner:<10} calls {calls:>4} decode {seconds:.3f}s "
                  f"forward {1000 * forward:.2f}ms ratio {ratio:.3f}", flush=True)
    save("overhead", {"gen_length": args.gen_length, "block_length": args.block_length, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
