"""unmask against the straightforward loop, in the style of the official DUS decoder.

The reference here is written for this benchmark (no code taken from elsewhere): batch 1, a full recompute each
call, `gc.collect()` after every call, and Python loops over positions. Both decode the same prompts with DUS
(dilated, no deferral, greedy, EOS early stop off); the script checks that the tokens are identical, then reports
per-sample latency at batch 1 and throughput of unmask at batch 16 and 32 against the reference run one prompt at a
time. Target: >= 10x throughput at batch 32.

    python benchmarks/reference_loop.py
"""

from __future__ import annotations

import gc
import time

import torch
from common import parser, save, setup, task_prompts

import unmask
from unmask.planners import dilated_groups


def reference_dilated(hf_model, prompt_ids: list[int], mask_id: int, gen_length: int, block_length: int) -> list[int]:
    """One prompt, the plain way."""
    x = torch.tensor([prompt_ids + [mask_id] * gen_length])
    start = len(prompt_ids)
    for block_start in range(start, start + gen_length, block_length):
        length = min(block_length, start + gen_length - block_start)
        for group in dilated_groups(length):
            with torch.no_grad():
                logits = hf_model(x).logits[0]
            logits[:, mask_id] = -float("inf")
            for offset in group:  # a Python loop over positions
                position = block_start + offset
                if x[0, position].item() == mask_id:
                    x[0, position] = int(torch.argmax(logits[position]).item())
            gc.collect()
    return x[0, start:].tolist()


def main():
    p = parser(__doc__)
    p.add_argument("--gen-length", type=int, default=64)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--prompts", type=int, default=32)
    args = p.parse_args()
    model = setup(args)
    prompts = task_prompts("arith", args.prompts)
    encoded = [model.tokenizer(q, add_special_tokens=False)["input_ids"] for q in prompts]
    kwargs = dict(planner="dilated", gen_length=args.gen_length, block_length=args.block_length, eos_early_stop=False)
    unmask.generate(model, prompts[:2], **kwargs)  # warm-up

    start = time.perf_counter()
    reference = [reference_dilated(model.model, ids, model.mask_id, args.gen_length, args.block_length) for ids in encoded]
    reference_seconds = time.perf_counter() - start

    start = time.perf_counter()
    single = [unmask.generate(model, [q], **kwargs).tokens[0].tolist() for q in prompts]
    single_seconds = time.perf_counter() - start
    identical_single = sum(a == b for a, b in zip(single, reference))

    rows = {"reference_batch1": {"seconds": reference_seconds, "per_sample_ms": 1000 * reference_seconds / len(prompts)},
            "unmask_batch1": {"seconds": single_seconds, "per_sample_ms": 1000 * single_seconds / len(prompts),
                              "identical": identical_single}}
    for batch in (16, 32):
        start = time.perf_counter()
        tokens = []
        for i in range(0, len(prompts), batch):
            tokens += unmask.generate(model, prompts[i : i + batch], **kwargs).tokens.tolist()
        seconds = time.perf_counter() - start
        rows[f"unmask_batch{batch}"] = {"seconds": seconds, "throughput_x": reference_seconds / seconds,
                                        "identical": sum(a == b for a, b in zip(tokens, reference))}
    for name, row in rows.items():
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    save("reference_loop", {"gen_length": args.gen_length, "block_length": args.block_length,
                            "prompts": len(prompts), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
