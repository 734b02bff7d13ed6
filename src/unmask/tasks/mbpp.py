"""MBPP, in its official record format: `{"task_id", "text", "code", "test_list", "test_setup_code"?}`.

Prompted the usual way ("You are an expert Python programmer, and here is your task: ...", with the asserts), inside
the tokenizer's chat template when it has one. The code (a fenced block when the completion has one) passes when,
run in the sandbox followed by `test_setup_code`, the `test_list` asserts (after `test_setup_code`) run without error
in the sandbox's verifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from unmask.sandbox import run_code
from unmask.tasks.base import Task, chat_prompt
from unmask.tasks.code import code_block


@dataclass(frozen=True)
class MBPP(Task):
    """Attributes:
    timeout: seconds each completion may run.
    """

    name: str = "mbpp"
    gen_length: int = 512
    fields: ClassVar[tuple[str, ...]] = ("text", "code", "test_list")
    timeout: float = 5.0
    runs_code: ClassVar[bool] = True

    def prompt(self, item: dict, tokenizer=None) -> str:
        tests = "\n".join(item["test_list"])
        text = (f"You are an expert Python programmer, and here is your task: {item['text']} "
                f"Your code should pass these tests:\n\n{tests}\n")
        return chat_prompt(text, tokenizer)

    def target(self, item: dict) -> str:
        return item["code"]

    def extract(self, completion: str):
        """The first fenced code block, else the whole completion; lm-eval's [BEGIN] / [DONE] markers removed."""
        code = code_block(completion.split("[DONE]", 1)[0])
        return code.replace("[BEGIN]", "", 1)

    def score(self, item: dict, completion: str) -> bool:
        setup = (item.get("test_setup_code") or "") + "\n"
        return run_code(self.extract(completion) + "\n" + setup, timeout=self.timeout, setup=setup,
                        test="\n".join(item["test_list"]) + "\n").passed
