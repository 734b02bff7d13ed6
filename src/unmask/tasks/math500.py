r"""MATH-500 (HuggingFaceH4/MATH-500), in its official record format: `{"problem": ..., "answer": ...}`, usually with
`solution`, `subject`, `level` and `unique_id` too.

The model is asked to reason step by step and box its final answer; the last `\boxed{...}` is compared with `answer`
after the usual MATH normalisation (`unmask.tasks.latex`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from unmask.tasks.base import Task, chat_prompt
from unmask.tasks.latex import equivalent, last_boxed

_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class MATH500(Task):
    name: str = "math500"
    gen_length: int = 512
    fields: ClassVar[tuple[str, ...]] = ("problem", "answer")
    stop: ClassVar[tuple[str, ...]] = ("Problem:",)

    def prompt(self, item: dict, tokenizer=None) -> str:
        text = f"{item['problem']}\n{_INSTRUCTION}"
        return chat_prompt(text, tokenizer, raw=f"Problem: {text}\nSolution:")

    def target(self, item: dict) -> str:
        """The reference solution when the record has one, else the boxed answer."""
        return item.get("solution") or f"The final answer is $\\boxed{{{item['answer']}}}$."

    def extract(self, completion: str):
        return last_boxed(completion.split("Problem:", 1)[0])

    def gold(self, item: dict):
        return item["answer"]

    def score(self, item: dict, completion: str) -> bool:
        answer = self.extract(completion)
        return answer is not None and equivalent(answer, self.gold(item))
