"""unmask planners inside diffusers' LLaDA2Pipeline against its own BlockRefinementScheduler, and against
`unmask.generate`, on the bundled model's sudoku task: accuracy, model calls and wall time, side by side.

The pipeline decodes block-causally (a block's call sees the prompt and the blocks up to it, not the masks after
it); `unmask.generate` gives every call the whole sequence, as LLaDA does. Greedy, EOS early stop on.

    python benchmarks/diffusers_pipeline.py
"""

from __future__ import annotations

import time

import torch
from common import parser, save, setup
from diffusers import BlockRefinementScheduler, LLaDA2Pipeline
from transformers import LlamaForCausalLM

import unmask
from unmask.integrations.diffusers import PlannerScheduler
from unmask.tasks import get_task


def main():
    p = parser(__doc__)
    p.add_argument("--samples", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--block-length", type=int, default=32)
    args = p.parse_args()
    model = setup(args)
    hf = LlamaForCausalLM.from_pretrained(args.model or unmask.bundled_model_path()).eval()
    calls = {"n": 0}
    forward = hf.forward

    def counting(*a, **k):
        calls["n"] += 1
        return forward(*a, **k)

    hf.forward = counting
    tokenizer = model.tokenizer
    tokenizer.padding_side = "left"
    task = get_task("sudoku")
    items = task.generate(args.samples, 20251130)
    prompts = [task.prompt(item) for item in items]
    B, G = args.block_length, task.gen_length
    dus_calls = len(unmask.planners.dilated_groups(B))

    def pipeline_run(scheduler, **kwargs):
        pipe = LLaDA2Pipeline(model=hf, scheduler=scheduler, tokenizer=tokenizer)
        pipe.set_progress_bar_config(disable=True)
        texts = []
        for i in range(0, len(prompts), args.batch):
            out = pipe(prompt=prompts[i:i + args.batch], gen_length=G, block_length=B, use_chat_template=False,
                       editing_threshold=None, temperature=0.0, **kwargs)
            texts += out.texts
        return texts

    def unmask_run(planner, **options):
        texts = []
        for i in range(0, len(prompts), args.batch):
            result = unmask.generate(model, prompts[i:i + args.batch], planner=planner, gen_length=G,
                                     block_length=B, **options)
            texts += result.texts
            calls["n"] += result.calls
        return texts

    settings = [
        ("diffusers BlockRefinementScheduler, threshold 0.95, num_inference_steps=B (the scheduler default threshold)",
         lambda: pipeline_run(BlockRefinementScheduler(), num_inference_steps=B, threshold=0.95)),
        (f"diffusers BlockRefinementScheduler, threshold 1.0, num_inference_steps={dus_calls} (NFE-matched top-k)",
         lambda: pipeline_run(BlockRefinementScheduler(), num_inference_steps=dus_calls, threshold=1.0)),
        ("diffusers + PlannerScheduler dilated", lambda: pipeline_run(PlannerScheduler("dilated", B))),
        ("diffusers + PlannerScheduler threshold tau=0.9",
         lambda: pipeline_run(PlannerScheduler("threshold", B, {"tau": 0.9}))),
        ("unmask.generate dilated", lambda: unmask_run("dilated")),
        ("unmask.generate threshold tau=0.9", lambda: unmask_run("threshold", tau=0.9)),
    ]
    rows = []
    with torch.inference_mode():
        for name, run in settings:
            calls["n"] = 0
            start = time.perf_counter()
            texts = run()
            seconds = time.perf_counter() - start
            correct = sum(task.score(item, text) for item, text in zip(items, texts))
            rows.append({"setting": name, "accuracy": correct / len(items), "batch_calls": calls["n"],
                         "seconds": seconds})
            print(f"{name:95s} acc {100 * correct / len(items):5.1f}%  calls {calls['n']:5d}  {seconds:6.2f}s")
    save("diffusers_pipeline", {"samples": args.samples, "batch": args.batch, "block_length": B, "gen_length": G,
                                "rows": rows}, args.out)


if __name__ == "__main__":
    main()
