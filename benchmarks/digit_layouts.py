"""How the answer's layout decides whether the bundled model learns addition: a short single-task run per layout.

    OMP_NUM_THREADS=1 python benchmarks/digit_layouts.py --layout fixed --out runs/layouts/fixed.jsonl
    OMP_NUM_THREADS=1 python benchmarks/digit_layouts.py --layout plain --out runs/layouts/plain.jsonl

From the given weights (default: the bundled model), the masked-diffusion SFT objective on 3-digit addition
(a, b < 1000) with G = B = 8, batch 64, AdamW lr 1e-3 (100 warm-up steps, cosine to 10% over --steps), fp32. Every
--eval-every steps, 200 held-out problems are decoded token by token, with DUS and with NFE-matched confidence.
Layouts: `plain` (`29+860=` -> `889`), `fixed` (`029+860=` -> `0889`: every digit at a fixed distance from the
digits it depends on), `reversed` (fixed width, the answer written units first: `9880`). One JSON line per 50 steps
(loss, masked-token accuracy) and per evaluation, appended to --out.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from dataclasses import dataclass

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

import unmask
from unmask.training.data import encode_examples
from unmask.training.objective import masked_diffusion_loss


@dataclass(frozen=True)
class Addition:
    """3-digit addition in one layout; the task interface `encode_examples` needs."""

    layout: str
    name: str = "addition"
    gen_length: int = 8

    def sample(self, rng: random.Random) -> tuple[int, int]:
        return rng.randint(0, 999), rng.randint(0, 999)

    def prompt(self, pair: tuple[int, int]) -> str:
        a, b = pair
        return f"{a}+{b}=" if self.layout == "plain" else f"{a:03d}+{b:03d}="

    def target(self, pair: tuple[int, int]) -> str:
        total = sum(pair)
        return {"plain": str(total), "fixed": f"{total:04d}", "reversed": f"{total:04d}"[::-1]}[self.layout]


def learning_rate(step: int, steps: int, peak: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


def evaluate(model, tokenizer, task: Addition, pairs: list[tuple[int, int]]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        denoiser = unmask.load_model(directory, device="cpu")
        prompts = [task.prompt(p) for p in pairs]
        scores = {}
        for label, planner, options in [("token_by_token", "confidence", {}), ("dus", "dilated", {}),
                                        ("confidence_nfe_matched", "confidence", {"match": "dilated"})]:
            out = unmask.generate(denoiser, prompts, planner=planner, gen_length=task.gen_length,
                                  block_length=task.gen_length, **options)
            scores[label] = sum(text.strip() == task.target(p) for text, p in zip(out.texts, pairs)) / len(pairs)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=["plain", "fixed", "reversed"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=str(unmask.bundled_model_path()))
    parser.add_argument("--steps", type=int, default=1800)
    parser.add_argument("--eval-every", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = Addition(args.layout)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = LlamaForCausalLM.from_pretrained(args.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(0)
    held_out = [task.sample(random.Random(f"held-out:{i}")) for i in range(200)]
    began = time.time()
    with open(args.out, "a") as log:
        for step in range(args.steps):
            rng = random.Random(f"layouts:{step}")
            batch = encode_examples(tokenizer, task, [task.sample(rng) for _ in range(args.batch_size)])
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, args.steps, args.lr)
            loss, accuracy = masked_diffusion_loss(model, batch, tokenizer.mask_token_id, generator)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            row = {"step": step + 1, "seconds": round(time.time() - began)}
            if (step + 1) % 50 == 0:
                print(json.dumps({**row, "loss": round(loss.item(), 4), "acc": round(accuracy, 4)}), file=log,
                      flush=True)
            if (step + 1) % args.eval_every == 0:
                model.eval()
                print(json.dumps({**row, "eval": evaluate(model, tokenizer, task, held_out)}), file=log, flush=True)
                model.train()


if __name__ == "__main__":
    main()
