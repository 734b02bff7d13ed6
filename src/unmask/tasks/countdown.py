"""Countdown in Dream's format: `{"input": "15,44,79,50", "output": "44-15=29,79-29=50"}`.

The last input number is the target, the others are the operands (3 to 5, each in 1..99). A completion is a list of
equations `x<op>y=z` separated by commas, without spaces. It is correct when every equation holds (division only
when exact), each operand and each intermediate result is used exactly once, and the last result is the target.

Generated puzzles list their operands in the order of one solution, a left fold `((a op b) op c) ...`, whose
intermediate results are positive and at most 4 digits, multiplying by a single digit. Any other valid solution scores as correct too.

`width` > 0 writes the target's equations in the layout the bundled model learned on `digits` (the record and the
scoring are unchanged; `check_solution` reads numbers, so leading zeros are fine): operands at `width` digits, a
one-digit multiplier or divisor bare, results at `width + 1`: `44-15=29,79-29=50` -> `0044-0015=00029,0079-0029=00050`.
`countdown3_digits` is countdown3 with width 4.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from unmask.tasks.base import Task
from unmask.tasks.digits import fixed_width_equation

_EQUATION = re.compile(r"^(\d+)([+\-*/])(\d+)=(\d+)$")
_MAX_RESULT = 9999
_MAX_FACTOR = 9  # generated solutions multiply by one digit at most, to keep the arithmetic learnable


def _apply(x: int, op: str, y: int) -> int | None:
    """x op y when it is an exact positive integer, else None."""
    if op == "+":
        return x + y
    if op == "-":
        return x - y if x > y else None
    if op == "*":
        return x * y
    return x // y if y and x % y == 0 else None


def check_solution(operands: list[int], target: int, completion: str) -> bool:
    """Whether `completion` is a valid countdown solution for `operands` reaching `target`."""
    equations = [e for e in completion.strip().split(",") if e]
    if not equations:
        return False
    pool = Counter(operands)
    result = None
    for equation in equations:
        match = _EQUATION.match(equation.strip())
        if match is None:
            return False
        x, op, y, z = int(match[1]), match[2], int(match[3]), int(match[4])
        pool[x] -= 1
        pool[y] -= 1
        if pool[x] < 0 or pool[y] < 0 or _apply(x, op, y) != z:
            return False
        pool[z] += 1
        result = z
    return result == target and +pool == Counter([target])


@dataclass(frozen=True)
class Countdown(Task):
    name: str = "countdown"
    fields: ClassVar[tuple[str, ...]] = ("input", "output")
    gen_length: int = 48
    min_operands: int = 3
    max_operands: int = 5
    width: int = 0

    def sample(self, rng: random.Random) -> dict:
        while True:
            n = rng.randint(self.min_operands, self.max_operands)
            operands = [rng.randint(1, 99) for _ in range(n)]
            equations, value = [], operands[0]
            for operand in operands[1:]:
                choices = [
                    (op, r)
                    for op in "+-*/"
                    if (r := _apply(value, op, operand)) and r <= _MAX_RESULT and (op != "*" or operand <= _MAX_FACTOR)
                ]
                if not choices:
                    break
                op, result = rng.choice(choices)
                equations.append(f"{value}{op}{operand}={result}")
                value = result
            if len(equations) == n - 1:
                return {"input": ",".join(map(str, operands + [value])), "output": ",".join(equations)}

    def prompt(self, item: dict, tokenizer=None) -> str:
        *operands, target = item["input"].split(",")
        return f"Use {','.join(operands)} to make {target}.\nEquations:\n"

    def target(self, item: dict) -> str:
        if not self.width:
            return item["output"]
        equations = [_EQUATION.match(e).groups() for e in item["output"].split(",")]
        return ",".join(fixed_width_equation(int(x), op, int(y), int(z), self.width) for x, op, y, z in equations)

    def extract(self, completion: str):
        return completion.strip().splitlines()[0] if completion.strip() else ""

    def score(self, item: dict, completion: str) -> bool:
        *operands, target = [int(x) for x in item["input"].split(",")]
        return check_solution(operands, target, self.extract(completion))
