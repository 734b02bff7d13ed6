"""KV caching: speed-up and accuracy change of prefix / dual caching against no cache, at several prompt lengths.

Long prompts are few-shot prompts (solved examples before the question). Each (task, prompt length) decodes the
same records with cache none / prefix / dual; accuracy comes with its 95% Wilson interval.

    python benchmarks/cache.py
"""

from __future__ import annotations

import time

from common import few_shot_prompt, parser, save, setup

import unmask
from unmask.evaluate import wilson_interval
from unmask.tasks import get_task


def prompts_at(task, items, length, tokenizer):
    """Each item's prompt, preceded by the same solved examples, about `length` tokens long."""
    prefix = few_shot_prompt(task.name, length, tokenizer)
    shots = prefix[: prefix.rfind(task.prompt(task.generate(200, 11)[0]))]
    return [shots + task.prompt(item) for item in items]


def main():
    p = parser(__doc__)
    p.add_argument("--lengths", default="64,256,1024")
    p.add_argument("--tasks", default="sudoku,arith")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--block-length", type=int, default=16)
    p.add_argument("--planner", default="dilated")
    args = p.parse_args()
    model = setup(args)
    rows = []
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        items = task.generate(args.samples, 99)
        for length in [int(n) for n in args.lengths.split(",")]:
            prompts = prompts_at(task, items, length, model.tokenizer)
            tokens = max(len(model.tokenizer(q)["input_ids"]) for q in prompts)
            base = None
            for mode in ("none", "prefix", "dual"):
                unmask.generate(model, prompts[:2], planner=args.planner, gen_length=task.gen_length,
                                block_length=args.block_length, cache=mode)  # warm-up
                start = time.perf_counter()
                correct = 0
                for i in range(0, len(prompts), args.batch):
                    result = unmask.generate(model, prompts[i : i + args.batch], planner=args.planner,
                                             gen_length=task.gen_length, block_length=args.block_length, cache=mode)
                    correct += sum(task.score(item, text) for item, text in zip(items[i : i + args.batch], result.texts))
                seconds = time.perf_counter() - start
                base = base or seconds
                low, high = wilson_interval(correct, len(prompts))
                rows.append({"task": task_name, "prompt_tokens": tokens, "cache": mode, "seconds": seconds,
                             "speedup": base / seconds, "accuracy": correct / len(prompts), "ci95": [low, high]})
                print(f"{task_name:<8} prompt {tokens:>5} tok  cache {mode:<6} {seconds:7.2f}s  {base / seconds:5.2f}x  "
                      f"acc {100 * correct / len(prompts):5.1f} [{100 * low:.1f}, {100 * high:.1f}]", flush=True)
    save("cache", {"planner": args.planner, "block_length": args.block_length, "samples": args.samples,
                   "rows": rows}, args.out)


if __name__ == "__main__":
    main()
