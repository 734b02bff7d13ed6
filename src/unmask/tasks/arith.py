"""Grade-school arithmetic word problems in GSM8K's record format.

`{"question": ..., "answer": "<one equation per line>\\n#### <number>"}`: 2 to 4 operations on a running count,
numbers up to 3 digits, each step written out as an equation. Scored on the number after `####` (else the last
number in the completion), exactly as GSM8K is.

`layout` chooses how the answer is written (the record is unchanged; scoring is the same, `#### 072` scores as 72):
`plain` as GSM8K writes it (`39*5=195`); `fixed` every number of every equation and the final answer zero-padded to
`width` digits (`039*005=195`, `#### 195`; `arith_fixed`, width 3, G = 56); `digits` the layout the bundled model
learned on `digits` (`0039*5=00195`, `0195+0012=00207`, `#### 00207`: operands at `width` digits, a one-digit
multiplier or divisor bare, results at `width + 1`; `arith_digits`, width 4, G = 80). The question stays in words.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import ClassVar

from unmask.tasks.answers import extract_number
from unmask.tasks.base import Task
from unmask.tasks.digits import fixed_width_equation

_NAMES = ["Tom", "Ana", "Ben", "Mia", "Sam", "Lea", "Max", "Zoe", "Leo", "Ivy", "Dan", "Eva"]
_ITEMS = ["apples", "stickers", "marbles", "books", "coins", "cards", "pens", "shells", "eggs", "stamps"]
_ADD = ["{p} buys {b} more.", "{p} finds {b} more.", "{p} gets {b} more from a friend."]
_SUB = ["{p} gives away {b}.", "{p} loses {b}.", "{p} sells {b}."]
_MUL = ["Then {p} gets {b} times as many."]
_DIV = ["{p} splits them into {b} equal piles and keeps one pile."]
_MAX_VALUE = 999
_EQUATION = re.compile(r"(\d+)([-+*/])(\d+)=(\d+)")


@dataclass(frozen=True)
class Arith(Task):
    name: str = "arith"
    gen_length: int = 48
    fields: ClassVar[tuple[str, ...]] = ("question", "answer")
    min_ops: int = 2
    max_ops: int = 4
    layout: str = "plain"
    width: int = 0

    def __post_init__(self):
        if self.layout not in ("plain", "fixed", "digits") or (self.layout != "plain") != (self.width > 0):
            raise ValueError(f"arith layout {self.layout!r} with width {self.width}: use layout 'plain' with width 0, "
                             "or 'fixed' / 'digits' with a width > 0")

    def sample(self, rng: random.Random) -> dict:
        name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
        value = rng.randint(2, 60)
        sentences, lines = [f"{name} has {value} {item}."], []
        for _ in range(rng.randint(self.min_ops, self.max_ops)):
            op, b = self._draw_op(rng, value)
            result = {"+": value + b, "-": value - b, "*": value * b, "/": value // b}[op]
            template = rng.choice({"+": _ADD, "-": _SUB, "*": _MUL, "/": _DIV}[op])
            sentences.append(template.format(p=name, b=b))
            lines.append(f"{value}{op}{b}={result}")
            value = result
        sentences.append(f"How many {item} does {name} have now?")
        return {"question": " ".join(sentences), "answer": "\n".join(lines) + f"\n#### {value}"}

    @staticmethod
    def _draw_op(rng: random.Random, value: int) -> tuple[str, int]:
        options = ["+"] if value + 2 <= _MAX_VALUE else []
        options += ["-"] if value > 2 else []
        options += ["*"] if value * 2 <= _MAX_VALUE else []
        divisors = [d for d in (2, 3, 4, 5) if value % d == 0]
        options += ["/"] if divisors else []
        op = rng.choice(options)
        if op == "+":
            return op, rng.randint(2, min(40, _MAX_VALUE - value))
        if op == "-":
            return op, rng.randint(1, min(40, value - 1))
        if op == "*":
            return op, rng.randint(2, min(5, _MAX_VALUE // value))
        return op, rng.choice(divisors)

    def prompt(self, item: dict, tokenizer=None) -> str:
        return f"Question: {item['question']}\nAnswer:\n"

    def target(self, item: dict) -> str:
        if self.layout == "plain":
            return item["answer"]
        *equations, final = item["answer"].split("\n")
        final_width = self.width + (self.layout == "digits")
        lines = [self._write(*_EQUATION.fullmatch(line).groups()) for line in equations]
        return "\n".join(lines + [f"#### {int(final.removeprefix('#### ')):0{final_width}d}"])

    def _write(self, a: str, op: str, b: str, result: str) -> str:
        if self.layout == "digits":
            return fixed_width_equation(int(a), op, int(b), int(result), self.width)
        w = self.width
        return f"{int(a):0{w}d}{op}{int(b):0{w}d}={int(result):0{w}d}"

    def extract(self, completion: str):
        return extract_number(completion)

    def gold(self, item: dict):
        return extract_number(item["answer"])

    def score(self, item: dict, completion: str) -> bool:
        answer = self.extract(completion)
        return answer is not None and answer == self.gold(item)
