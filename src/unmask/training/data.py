"""Training batches for the masked-diffusion SFT objective, generated fresh from the tasks.

Each batch holds records of one task, so that padding stays small. A batch is a pure function of (seed, step):
a resumed run sees exactly the data it would have seen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from unmask.tasks import get_task


@dataclass
class Batch:
    """One task's examples, left-padded prompts followed by EOS-padded answers.

    Attributes:
        input_ids: LongTensor (B, L), prompt then answer, `[PAD]` on the left of short prompts.
        attention_mask: LongTensor (B, L), 0 on padding.
        answer_mask: BoolTensor (B, L), True on answer positions (the EOS padding included): the ones that get masked.
        task: task name.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    answer_mask: torch.Tensor
    task: str

    def to(self, device) -> "Batch":
        """The same batch with its tensors on `device`."""
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.answer_mask.to(device), self.task)


def encode_examples(tokenizer, task, records: list[dict]) -> Batch:
    """Tokenize `records` of `task` into one batch: prompt + answer + EOS up to `task.gen_length`."""
    prompts = [tokenizer(task.prompt(r), add_special_tokens=False)["input_ids"] for r in records]
    answers = [tokenizer(task.target(r), add_special_tokens=False)["input_ids"] for r in records]
    gen = max([task.gen_length] + [len(a) + 1 for a in answers])
    width = max(len(p) for p in prompts) + gen
    ids = torch.full((len(records), width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    answer_mask = torch.zeros_like(ids, dtype=torch.bool)
    for row, (prompt, answer) in enumerate(zip(prompts, answers)):
        start = width - gen - len(prompt)
        body = prompt + answer + [tokenizer.eos_token_id] * (gen - len(answer))
        ids[row, start:] = torch.tensor(body)
        attention[row, start:] = 1
        answer_mask[row, width - gen :] = True
    return Batch(ids, attention, answer_mask, task.name)


class TaskMixture:
    """Deterministic stream of batches: batch `step` draws its task and records from `seed` and `step` alone."""

    def __init__(self, tokenizer, tasks: dict[str, float], batch_size: int, seed: int):
        self.tokenizer = tokenizer
        self.tasks = {name: get_task(name) for name in tasks}
        self.weights = [tasks[name] for name in tasks]
        self.batch_size = batch_size
        self.seed = seed

    def batch(self, step: int) -> Batch:
        rng = random.Random(f"train:{self.seed}:{step}")
        task = rng.choices(list(self.tasks.values()), weights=self.weights)[0]
        records = [task.sample(rng) for _ in range(self.batch_size)]
        return encode_examples(self.tokenizer, task, records)
