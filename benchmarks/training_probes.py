"""Cheap measurements behind the model card's "what was tried" table (fp32, one thread).

    python benchmarks/training_probes.py step-cost [--model DIR]      # seconds per training step, per task
    python benchmarks/training_probes.py grad-norms --model DIR       # gradient norm per task batch, before clipping
    python benchmarks/training_probes.py digit-probe --model DIR [--op +]
        # digits1: accuracy on the k-th answer digit from the right, masked alone (all else given) and with the
        # whole answer masked; 10% is chance
    python benchmarks/training_probes.py checkpoint --model DIR
        # token-by-token accuracy (B = 8) on digits1 (200) / digits (300, and per kind) / sudoku (200), evaluation
        # seed 20251130, and the held-out masked cross-entropy on 256 digits records at t = 0.5 (fixed masks): the
        # "what was tried" rows compare runs with it
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch
import torch.nn.functional as F
from digits_by_operation import kind
from transformers import AutoTokenizer, LlamaForCausalLM

import unmask
from unmask.tasks import get_task
from unmask.training.data import TaskMixture, encode_examples
from unmask.training.objective import masked_diffusion_loss, masked_logits


def step_cost(model, tokenizer, tasks: list[str], batch_size: int = 64, repeats: int = 4) -> None:
    """Forward + backward of one batch per task; the first repeat (warm-up) is not reported."""
    generator = torch.Generator().manual_seed(0)
    for name in tasks:
        mixture = TaskMixture(tokenizer, {name: 1.0}, batch_size, seed=5)
        seconds = []
        for step in range(repeats):
            batch = mixture.batch(step)
            start = time.perf_counter()
            loss, _ = masked_diffusion_loss(model, batch, tokenizer.mask_token_id, generator)
            loss.backward()
            model.zero_grad(set_to_none=True)
            seconds.append(time.perf_counter() - start)
        print(f"{name}: {batch.input_ids.shape[1]} positions a row, s/step {[round(s, 2) for s in seconds[1:]]}")


def grad_norms(model, tokenizer, tasks: list[str], batch_size: int = 64, repeats: int = 3) -> None:
    for name in tasks:
        norms = []
        for step in range(repeats):
            batch = TaskMixture(tokenizer, {name: 1.0}, batch_size, seed=99).batch(step)
            loss, _ = masked_diffusion_loss(model, batch, tokenizer.mask_token_id,
                                            torch.Generator().manual_seed(step))
            model.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item())
        print(f"{name}: gradient norms {[round(n, 2) for n in norms]}")


@torch.no_grad()
def digit_probe(model, tokenizer, op: str, n: int = 64) -> None:
    task = get_task("digits1")
    records = [r for r in task.generate(4 * n, 7) if op in r["context"]][:n]
    batch = encode_examples(tokenizer, task, records)
    ids, attention = batch.input_ids, batch.attention_mask  # (N, L)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    start = ids.shape[1] - max(task.gen_length, max(len(r["completion"]) + 1 for r in records))
    rows = torch.arange(len(records))
    for k in (1, 2, 3):
        columns = torch.tensor([start + len(r["completion"]) - k for r in records])  # (N,)
        alone, whole = ids.clone(), ids.clone()
        alone[rows, columns] = tokenizer.mask_token_id
        whole[:, start:] = tokenizer.mask_token_id
        gold = ids[rows, columns]
        hits = []
        for noisy in (alone, whole):
            logits = model(input_ids=noisy, attention_mask=attention, position_ids=positions).logits  # (N, L, V)
            hits.append((logits[rows, columns].argmax(-1) == gold).float().mean().item())
        print(f"op {op}, digit {k} from the right: alone {hits[0]:.2f}, whole answer masked {hits[1]:.2f} "
              f"({len(records)} records)")


def checkpoint_probe(path: str) -> dict:
    """Accuracy of token-by-token decoding on three tasks, digits per kind, and a held-out digits cross-entropy."""
    model = unmask.load_model(path)
    result = {}
    for name, n in (("digits1", 200), ("digits", 300), ("sudoku", 200)):
        task = get_task(name)
        records = task.generate(n, seed=20251130)
        out = unmask.generate(model, [task.prompt(r) for r in records], planner="confidence",
                              gen_length=task.gen_length, block_length=8)
        scores = [task.score(r, text) for r, text in zip(records, out.texts)]
        result[name] = sum(scores) / n
        if name == "digits":
            kinds = defaultdict(list)
            for record, score in zip(records, scores):
                kinds[kind(record["context"])].append(score)
            result |= {f"digits_{k}": sum(v) / len(v) for k, v in sorted(kinds.items())}
    tokenizer = model.tokenizer
    batch = TaskMixture(tokenizer, {"digits": 1.0}, 256, seed=777).batch(0)
    masked = batch.answer_mask & (torch.rand(batch.input_ids.shape, generator=torch.Generator().manual_seed(0)) < 0.5)
    with torch.no_grad():
        logits = masked_logits(model.model, batch, masked, tokenizer.mask_token_id)
    result["ce_digits"] = F.cross_entropy(logits[masked], batch.input_ids[masked]).item()
    print(path, " ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["step-cost", "grad-norms", "digit-probe", "checkpoint"])
    parser.add_argument("--model", help="exported model directory (default: the bundled model)")
    parser.add_argument("--tasks", default="digits1,digits,sudoku,countdown,arith")
    parser.add_argument("--op", default="+", choices=["+", "-", "*"], help="digit-probe: the operation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = args.model or unmask.bundled_model_path()
    if args.what == "checkpoint":
        checkpoint_probe(str(path))
        return
    tokenizer, model = AutoTokenizer.from_pretrained(path), LlamaForCausalLM.from_pretrained(path)
    tasks = args.tasks.split(",")
    if args.what == "step-cost":
        step_cost(model, tokenizer, tasks)
    elif args.what == "grad-norms":
        grad_norms(model, tokenizer, tasks)
    else:
        digit_probe(model.eval(), tokenizer, args.op)


if __name__ == "__main__":
    main()
