"""Multi-digit arithmetic whose answer digits depend on their neighbours (carries, borrows, products).

Records use the field names of EleutherAI's arithmetic benchmark (GPT-3's `arithmetic_3da` and kin):
`{"context": "347+589=", "completion": "936"}`. Generated contexts are the bare expression: one or two operations on
3-4 digit operands, `+`, `-` (never below zero) and `*` by one digit (2-9), e.g. `347+589=`, `4731-2958=`,
`5927*8=`. A chain of two operations, evaluated left to right, writes each running result, separated by commas:
`347+589-212=` -> `936,724`; `*` only comes first in a chain, so left to right agrees with the usual precedence.

The prompt and the answer are laid out at a fixed width (`width`, default 4): operands of `+` and `-` zero-padded
to `width` digits, each result to `width + 1`, so `347+589-212=` is shown as `0347+0589-0212=` and answered
`00936,00724`, and `5927*8=` as `5927*8=` -> `47416`. Every answer digit then sits at the same distance from the
operand digits it depends on, whatever the numbers' lengths. Measured from the v2 bundled weights, 600 steps of
3-digit addition (`python benchmarks/digit_layouts.py --layout fixed|plain|reversed --steps 600`): fixed width
97.5% token by token on 200 held-out sums, unpadded 1.5%, fixed width with the answer reversed 2.0%. `width=0`
gives the unpadded layout. A completion is correct when the last number on its first line equals
the gold final result (leading zeros allowed only in the fixed-width layout).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import ClassVar

from unmask.tasks.base import Task

_NUMBER = re.compile(r"^\d+$")
_MAX_RESULT = 99_999


def fixed_width_equation(a: int, op: str, b: int, result: int, width: int = 4) -> str:
    """One equation in the digits layout: `a` and `b` zero-padded to `width` digits, except a one-digit multiplier or
    divisor, which stays bare; the result padded to `width + 1`. `(347, "+", 589, 936)` -> `0347+0589=00936`,
    `(5927, "*", 8, 47416)` -> `5927*8=47416`. Tasks whose answers compute (arith, countdown) use it to write their
    equations in the layout the bundled model learned on digits."""
    bare = op in "*/" and b < 10
    return f"{a:0{width}d}{op}{b if bare else f'{b:0{width}d}'}={result:0{width + 1}d}"


def _operand(rng: random.Random) -> int:
    """A 3- or 4-digit number, each length equally likely."""
    digits = rng.choice((3, 4))
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


@dataclass(frozen=True)
class Digits(Task):
    name: str = "digits"
    gen_length: int = 16
    fields: ClassVar[tuple[str, ...]] = ("context", "completion")
    min_ops: int = 1
    max_ops: int = 2
    width: int = 4

    def sample(self, rng: random.Random) -> dict:
        value = _operand(rng)
        expression, results = str(value), []
        for position in range(rng.randint(self.min_ops, self.max_ops)):
            op, b = self._draw_op(rng, value, first=position == 0)
            value = {"+": value + b, "-": value - b, "*": value * b}[op]
            expression += f"{op}{b}"
            results.append(str(value))
        return {"context": expression + "=", "completion": ",".join(results)}

    @staticmethod
    def _draw_op(rng: random.Random, value: int, first: bool) -> tuple[str, int]:
        """An operation and operand keeping the running value in 0..99999."""
        while True:
            op = rng.choice("+-*" if first else "+-")
            b = rng.randint(2, 9) if op == "*" else _operand(rng)
            result = {"+": value + b, "-": value - b, "*": value * b}[op]
            if 0 <= result <= _MAX_RESULT:
                return op, b

    def prompt(self, item: dict, tokenizer=None) -> str:
        if not self.width:
            return item["context"]
        parts = re.split(r"([+\-*])", item["context"].strip().rstrip("="))  # operands and operators, alternating
        padded = [part if part in "+-*" or (i > 0 and parts[i - 1] == "*") else part.zfill(self.width)
                  for i, part in enumerate(parts)]
        return "".join(padded) + "="

    def target(self, item: dict) -> str:
        results = item["completion"].strip().split(",")
        return ",".join(r.zfill(self.width + 1) for r in results) if self.width else ",".join(results)

    def extract(self, completion: str):
        """The last comma-separated field of the first line, when it is a plain number; else None. The fixed-width
        layout's leading zeros are dropped."""
        lines = completion.strip().splitlines()
        last = lines[0].rsplit(",", 1)[-1].strip() if lines else ""
        if not _NUMBER.match(last):
            return None
        return str(int(last)) if self.width else last

    def score(self, item: dict, completion: str) -> bool:
        answer = self.extract(completion)
        return answer is not None and answer == self.gold(item)
