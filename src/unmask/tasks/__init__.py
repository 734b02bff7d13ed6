"""Tasks: the bundled model's synthetic tasks and the public benchmarks, in the benchmarks' own record formats."""

from __future__ import annotations

from unmask.tasks.arith import Arith
from unmask.tasks.base import Task
from unmask.tasks.countdown import Countdown
from unmask.tasks.digits import Digits
from unmask.tasks.gsm8k import GSM8K
from unmask.tasks.humaneval import HumanEval
from unmask.tasks.math500 import MATH500
from unmask.tasks.mbpp import MBPP
from unmask.tasks.sudoku import Sudoku

_TASKS = {
    "arith": Arith,
    "arith_fixed": lambda **options: Arith(**{"name": "arith_fixed", "layout": "fixed", "width": 3, "gen_length": 56,
                                              **options}),
    "arith_digits": lambda **options: Arith(**{"name": "arith_digits", "layout": "digits", "width": 4, "gen_length": 80,
                                               **options}),
    "arith_digits1": lambda **options: Arith(**{"name": "arith_digits1", "layout": "digits", "width": 4,
                                                "min_ops": 1, "max_ops": 1, "gen_length": 32, **options}),
    "countdown": Countdown,
    "countdown3": lambda **options: Countdown(**{"name": "countdown3", "max_operands": 3, **options}),
    "countdown3_digits": lambda **options: Countdown(**{"name": "countdown3_digits", "max_operands": 3, "width": 4,
                                                        **options}),
    "sudoku": Sudoku,
    "digits": Digits,
    "digits1": lambda **options: Digits(**{"name": "digits1", "max_ops": 1, "gen_length": 8, **options}),
    "digits2": lambda **options: Digits(**{"name": "digits2", "min_ops": 2, **options}),
    "gsm8k": GSM8K,
    "math500": MATH500,
    "humaneval": HumanEval,
    "mbpp": MBPP,
}


def available_tasks() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str, **options) -> Task:
    """The task registered as `name`, built with `options` (e.g. `get_task("gsm8k", num_fewshot=5)`).
    `countdown3` is countdown with exactly 3 operands (the bundled model's headline countdown test); `digits1` is
    digits with one operation, no chains (a curriculum step for training); `digits2` is digits with exactly two
    operations, the chains only (training weight on the slice where digits fails); `arith_fixed` is arith with its answer at
    a fixed width, `arith_digits` and `countdown3_digits` arith and countdown3 with their equations in digits' layout
    (the same records, prompts and scoring: training targets that reuse what the model learned on digits)."""
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}: choose one of {', '.join(available_tasks())}")
    return _TASKS[name](**options)


__all__ = ["Task", "Arith", "Countdown", "Digits", "GSM8K", "HumanEval", "MATH500", "MBPP", "Sudoku",
           "available_tasks", "get_task"]
