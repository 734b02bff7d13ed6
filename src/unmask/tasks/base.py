"""The task protocol shared by the synthetic tasks and the public benchmarks.

A task turns a record (a dict in the public benchmark's own field names) into a prompt, pulls the answer out of a
completion and scores it. Synthetic tasks also generate fresh records from a seed, and give the reference
completion used as the training target.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """Base class: subclasses override the methods that apply to them.

    Attributes:
        name: registry name (`unmask.tasks.get_task(name)`).
        gen_length: answer length the bundled model was trained with (EOS-padded); a good default for decoding.
    """

    name: str = "task"
    gen_length: int = 64

    def generate(self, n: int, seed: int) -> list[dict]:
        """`n` fresh records drawn from a generator seeded with `seed` (same seed, same records)."""
        rng = random.Random(f"{self.name}:{seed}")
        return [self.sample(rng) for _ in range(n)]

    def sample(self, rng: random.Random) -> dict:
        raise NotImplementedError(f"task {self.name!r} has no generator; load records with load(path)")

    def prompt(self, item: dict, tokenizer=None) -> str:
        raise NotImplementedError

    def target(self, item: dict) -> str:
        """The reference completion (what the model is trained to write after the prompt)."""
        raise NotImplementedError

    def extract(self, completion: str):
        """The answer the completion states (for logging); `score` decides correctness."""
        return completion.strip()

    def gold(self, item: dict):
        """The reference answer, as `extract` would return it."""
        return self.extract(self.target(item))

    def score(self, item: dict, completion: str) -> bool:
        raise NotImplementedError
