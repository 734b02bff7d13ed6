"""4x4 sudoku in Dream's format: `{"input": "1003\\n0300\\n3210\\n4132", "output": "1423\\n2341\\n3214\\n4132"}`.

0 marks a blank. Puzzles keep 4 to 12 given digits. A completion is correct when it keeps every given and each
row, column and 2x2 box holds 1 to 4 (a puzzle with several solutions accepts any of them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from unmask.tasks.base import Task

_BASE = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]


def _random_solution(rng: random.Random) -> list[list[int]]:
    """A uniformly scrambled valid 4x4 grid: relabel digits, permute rows within bands, bands, columns, transpose."""
    digits = rng.sample([1, 2, 3, 4], 4)
    rows = [band * 2 + r for band in rng.sample([0, 1], 2) for r in rng.sample([0, 1], 2)]
    cols = [stack * 2 + c for stack in rng.sample([0, 1], 2) for c in rng.sample([0, 1], 2)]
    grid = [[digits[_BASE[r][c] - 1] for c in cols] for r in rows]
    if rng.random() < 0.5:
        grid = [list(col) for col in zip(*grid)]
    return grid


def _format(grid) -> str:
    return "\n".join("".join(str(d) for d in row) for row in grid)


def parse_grid(text: str) -> list[list[int]] | None:
    """The first four 4-digit lines of `text` as a grid, or None when it has no such grid."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 4 or any(len(line) != 4 or not line.isdigit() for line in lines[:4]):
        return None
    return [[int(ch) for ch in line] for line in lines[:4]]


def is_valid_solution(puzzle: list[list[int]], grid: list[list[int]]) -> bool:
    """Givens kept, and every row, column and 2x2 box is a permutation of 1..4."""
    full = {1, 2, 3, 4}
    if any(puzzle[r][c] and puzzle[r][c] != grid[r][c] for r in range(4) for c in range(4)):
        return False
    units = [grid[r] for r in range(4)] + [[grid[r][c] for r in range(4)] for c in range(4)]
    units += [[grid[br + r][bc + c] for r in (0, 1) for c in (0, 1)] for br in (0, 2) for bc in (0, 2)]
    return all(set(unit) == full for unit in units)


@dataclass(frozen=True)
class Sudoku(Task):
    name: str = "sudoku"
    fields: ClassVar[tuple[str, ...]] = ("input", "output")
    gen_length: int = 32
    min_givens: int = 4
    max_givens: int = 12

    def sample(self, rng: random.Random) -> dict:
        solution = _random_solution(rng)
        givens = rng.randint(self.min_givens, self.max_givens)
        keep = set(rng.sample(range(16), givens))
        puzzle = [[solution[r][c] if r * 4 + c in keep else 0 for c in range(4)] for r in range(4)]
        return {"input": _format(puzzle), "output": _format(solution)}

    def prompt(self, item: dict, tokenizer=None) -> str:
        return f"Solve the sudoku:\n{item['input']}\nSolution:\n"

    def target(self, item: dict) -> str:
        return item["output"]

    def extract(self, completion: str):
        grid = parse_grid(completion)
        return None if grid is None else _format(grid)

    def score(self, item: dict, completion: str) -> bool:
        grid = parse_grid(completion)
        puzzle = parse_grid(item["input"])
        return grid is not None and puzzle is not None and is_valid_solution(puzzle, grid)
