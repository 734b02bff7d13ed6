"""Grade-school arithmetic word problems in GSM8K's record format.

`{"question": ..., "answer": "<one equation per line>\\n#### <number>"}`: 2 to 4 operations on a running count,
numbers up to 3 digits, each step written out as an equation. Scored on the number after `####` (else the last
number in the completion), exactly as GSM8K is.

`width` > 0 writes the answer at a fixed width (the record is unchanged): every number of every equation and the
final answer zero-padded to `width` digits, `39*5=195` -> `039*005=195` and `#### 196` -> `#### 196`, so that each
digit sits at a fixed distance from the digits it depends on (the layout that made `digits` learnable). The
question stays in words; scoring is the same (`#### 072` scores as 72). `arith_fixed` is `width=3`, G = 56.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import ClassVar

from unmask.tasks.answers import extract_number
from unmask.tasks.base import Task

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
    width: int = 0

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
        if not self.width:
            return item["answer"]
        *equations, final = item["answer"].split("\n")
        lines = [self._fixed(line) for line in equations]
        return "\n".join(lines + [f"#### {int(final.removeprefix('#### ')):0{self.width}d}"])

    def _fixed(self, equation: str) -> str:
        a, op, b, result = _EQUATION.fullmatch(equation).groups()
        w = self.width
        return f"{int(a):0{w}d}{op}{int(b):0{w}d}={int(result):0{w}d}"

    def extract(self, completion: str):
        return extract_number(completion)

    def gold(self, item: dict):
        return extract_number(item["answer"])

    def score(self, item: dict, completion: str) -> bool:
        answer = self.extract(completion)
        return answer is not None and answer == self.gold(item)
