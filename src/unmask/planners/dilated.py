"""The Dilated Unmasking Scheduler (DUS) and the binary-search (midpoint) order.

DUS: Luxembourg, Permuter and Nachmani, "Plan for Speed: Dilated Scheduling for Masked Diffusion Language Models"
(arXiv 2506.19037). A block of B positions is split into about log_base(B) groups of positions far apart from each
other; one group is revealed per model call, so neighbouring (mutually dependent) tokens are never committed
together. B=8 gives {0,4}, {2,6}, {1,3,5,7}; B=32 gives groups of 2, 2, 4, 8, 16.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from unmask import checks
from unmask.planners.base import Planner, StepState


def _merge_small_last(groups: list[list[int]]) -> list[list[int]]:
    """Fold a last group smaller than the one before it into that one."""
    if len(groups) >= 2 and len(groups[-1]) < len(groups[-2]):
        groups = groups[:-2] + [sorted(groups[-2] + groups[-1])]
    return groups


@lru_cache(maxsize=256)
def dilated_groups(length: int, base: int = 2, skip: int = 1) -> tuple[tuple[int, ...], ...]:
    """DUS groups of block offsets: stride = length // base**skip, then each group takes the not-yet-revealed
    offsets that are multiples of the stride, and the stride is divided by `base` until it reaches 0; leftovers
    form a last group, and a last group smaller than the one before it is merged into it."""
    revealed, groups = set(), []
    stride = length // base**skip
    while stride >= 1:
        group = [o for o in range(0, length, stride) if o not in revealed]
        if group:
            groups.append(group)
            revealed.update(group)
        stride //= base
    leftovers = [o for o in range(length) if o not in revealed]
    if leftovers:
        groups.append(leftovers)
    return tuple(tuple(g) for g in _merge_small_last(groups))


@lru_cache(maxsize=256)
def binary_groups(length: int) -> tuple[tuple[int, ...], ...]:
    """Midpoint order, level by level: the middle of the block, then the middles of its two halves, and so on."""
    segments, groups = [(0, length - 1)], []
    while segments:
        middles = [(lo + hi) // 2 for lo, hi in segments]
        groups.append(middles)
        segments = [seg for (lo, hi), mid in zip(segments, middles) for seg in ((lo, mid - 1), (mid + 1, hi)) if seg[0] <= seg[1]]
    return tuple(tuple(sorted(g)) for g in _merge_small_last(groups))


@lru_cache(maxsize=256)
def group_table(groups: tuple[tuple[int, ...], ...], width: int) -> torch.Tensor:
    """Cumulative membership: row s marks every offset in groups 0..s. BoolTensor (len(groups), width)."""
    table = torch.zeros(len(groups), width, dtype=torch.bool)
    for s, group in enumerate(groups):
        table[s:, list(group)] = True
    return table


class _GroupedPlanner(Planner):
    """Reveals fixed groups of offsets, one group per call; positions deferred by a confidence floor move on."""

    defer_below: float | None = None

    def __post_init__(self):
        if self.defer_below is not None:
            checks.finite(f"{self.name}: defer_below", self.defer_below, at_least=0, at_most=1, example=0.5,
                          note="a probability; None is off")

    def groups(self, length: int) -> tuple[tuple[int, ...], ...]:
        raise NotImplementedError

    def steps_for(self, block_len: int, block_index: int, num_blocks: int) -> int:
        return len(self.groups(block_len))

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        """With a confidence floor the forced reveal ranks by confidence (already computed); else by logit."""
        return state.confidence if self.defer_below is not None else super().fallback_scores(state)

    def select(self, state: StepState) -> torch.Tensor:
        width = state.eligible.shape[1]
        due = torch.zeros(state.eligible.shape, dtype=torch.bool)  # (A, K) host: offsets whose group has come
        for length in state.block_len.unique().tolist():
            rows = state.block_len == length
            table = group_table(self.groups(length), width)  # (S, K)
            due[rows] = table[state.step[rows].clamp(max=table.shape[0] - 1)]
        selected = state.eligible & due.to(state.eligible.device)
        if self.defer_below is not None:
            last = state.step + 1 >= torch.tensor([len(self.groups(n)) for n in state.block_len.tolist()])
            confident = state.confidence >= self.defer_below
            selected &= confident | last.to(selected.device).unsqueeze(-1)
        return selected


@dataclass(frozen=True)
class Dilated(_GroupedPlanner):
    """Options:
    base: the stride is divided by `base` after each group (integer >= 2).
    skip: the first stride is B // base**skip; larger skips give fewer, larger groups.
    defer_below: confidence floor; group positions below it stay masked and join the next group (the last commits all).
    """

    base: int = 2
    skip: int = 1
    defer_below: float | None = None

    name = "dilated"
    summary = "Dilated Unmasking Scheduler: ~log2(B) non-adjacent groups per block, one per call"
    source = "Luxembourg, Permuter, Nachmani 2025 (arXiv 2506.19037)"

    def __post_init__(self):
        checks.integer("dilated: base", self.base, at_least=2, example=2)
        checks.integer("dilated: skip", self.skip, at_least=1, example=1)
        super().__post_init__()

    def groups(self, length: int):
        return dilated_groups(length, self.base, self.skip)


@dataclass(frozen=True)
class Binary(_GroupedPlanner):
    """Options:
    defer_below: confidence floor; group positions below it stay masked and join the next group.
    """

    defer_below: float | None = None

    name = "binary"
    summary = "binary-search (midpoint) order, one level of midpoints per call"
    source = "Luxembourg, Permuter, Nachmani 2025 (arXiv 2506.19037), baseline order"

    def groups(self, length: int):
        return binary_groups(length)
