"""GSM8K, in its official record format: `{"question": ..., "answer": "<worked solution>\\n#### <number>"}`.

Prompted as lm-eval's `gsm8k` task is ("Question: ...\\nAnswer:", few-shot examples separated by blank lines), inside
the tokenizer's chat template when it has one. Scored on the number after `####`, else the last number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from unmask.tasks.answers import extract_number
from unmask.tasks.base import Task, chat_prompt
from unmask.tasks.records import check_fields, find_split, read_records


@dataclass(frozen=True)
class GSM8K(Task):
    """Grade-school math word problems.

    Attributes:
        num_fewshot: worked examples placed before the question (lm-eval's default is 5; 0 suits chat models).
        fewshot_path: file (or directory with a `train` split) whose first `num_fewshot` records are the examples.
            Without it, the first `num_fewshot` records `load()` reads become the examples.
        fewshot: the examples themselves (filled from `fewshot_path`, or by the first `load()`, when empty).
    """

    name: str = "gsm8k"
    gen_length: int = 256
    fields: ClassVar[tuple[str, ...]] = ("question", "answer")
    stop: ClassVar[tuple[str, ...]] = ("Question:",)
    num_fewshot: int = 0
    fewshot_path: str | None = None
    fewshot: tuple[dict, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if self.num_fewshot < 0:
            raise ValueError(f"num_fewshot must be >= 0, got {self.num_fewshot}")
        if self.num_fewshot and self.fewshot_path is not None and not self.fewshot:
            file = find_split(self.fewshot_path, "train")
            examples = read_records(file)[: self.num_fewshot]
            if len(examples) < self.num_fewshot:
                raise ValueError(f"{file} holds {len(examples)} records; num_fewshot={self.num_fewshot}")
            check_fields(examples, self.fields, file, self.name)
            object.__setattr__(self, "fewshot", tuple(examples))

    def load(self, path=None, split: str = "test", limit: int | None = None) -> list[dict]:
        """Records as `Task.load` reads them, less the few-shot examples; when examples are needed and none are
        set, the first `num_fewshot` records read become them."""
        records = super().load(path, split)
        if self.num_fewshot and not self.fewshot:
            object.__setattr__(self, "fewshot", tuple(records[: self.num_fewshot]))
        return [r for r in records if r not in self.fewshot][:limit]

    def prompt(self, item: dict, tokenizer=None) -> str:
        if len(self.fewshot) < self.num_fewshot:
            raise ValueError(f"gsm8k with num_fewshot={self.num_fewshot} needs examples: pass fewshot_path= (e.g. "
                             "GSM8K's train.jsonl) or fewshot=..., or call load() first")
        shots = [f"Question: {r['question']}\nAnswer: {r['answer']}" for r in self.fewshot[: self.num_fewshot]]
        return chat_prompt("\n\n".join(shots + [f"Question: {item['question']}\nAnswer:"]), tokenizer)

    def target(self, item: dict) -> str:
        return item["answer"]

    def extract(self, completion: str):
        return extract_number(completion.split("Question:", 1)[0])

    def gold(self, item: dict):
        return extract_number(item["answer"])

    def score(self, item: dict, completion: str) -> bool:
        answer = self.extract(completion)
        return answer is not None and answer == self.gold(item)
