"""Dilated spacing (DUS paper, section 4.4) as a wrapper that composes with any planner: `Spaced(inner, g0)`.

The inner planner chooses its candidates; they are visited best first (by `inner.priority`) and one is accepted
only when it lies at least `max(2, floor(M * g0 / B))` positions from every candidate already accepted, where M is
the number of masked positions left in the block, B the block length and g0 the `start_stride`. The best candidate
is always accepted; rejected ones stay masked. The gap shrinks as the block fills, so early calls commit spread-out
tokens and late calls may commit neighbours. Source: Luxembourg, Permuter and Nachmani 2025, "Plan for Speed:
Dilated Scheduling for Masked Diffusion Language Models" (arXiv 2506.19037), where it filters adaptive planners.

By name: every planner takes the option `start_stride` (`get_planner("confidence", steps=64, start_stride=2)`,
`--start-stride 2`); 0 is the inner planner itself. The inner planner's schedule is kept: for a planner with a fixed
number of calls per block, the positions the filter holds back are committed by the block's last scheduled call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks
from unmask.planners.base import Planner, StepState


def space_out(candidates: torch.Tensor, priority: torch.Tensor, masked_left: torch.Tensor, block_len: torch.Tensor,
              start_stride: float) -> torch.Tensor:
    """Keep the candidates that survive the spacing rule.

    Args:
        candidates: BoolTensor (A, K), positions the planner would commit.
        priority: FloatTensor (A, K), higher is visited first.
        masked_left: LongTensor (A,), masked positions left in each row's block (M).
        block_len: LongTensor (A,), each row's block length (B).
        start_stride: g0 > 0.
    Returns:
        BoolTensor (A, K), a subset of `candidates`.
    """
    rows, width = candidates.shape
    block_len = block_len.to(candidates.device)
    gap = torch.clamp(torch.floor(masked_left * start_stride / block_len), min=2)  # (A,)
    order = torch.sort(priority.masked_fill(~candidates, -torch.inf), dim=-1, descending=True, stable=True).indices
    positions = torch.arange(width, device=candidates.device)
    accepted = torch.zeros_like(candidates)
    for rank in range(width):  # greedy and sequential by nature; vectorised over rows, at most K small steps
        pos = order[:, rank]  # (A,)
        is_candidate = candidates.gather(1, pos[:, None]).squeeze(1)
        if not is_candidate.any():
            break
        distance = (positions[None, :] - pos[:, None]).abs()  # (A, K)
        clear = ~(accepted & (distance < gap[:, None])).any(-1)  # (A,)
        take = is_candidate & clear
        accepted[take, pos[take]] = True
    return accepted


@dataclass(frozen=True)
class Spaced(Planner):
    """Options:
    inner: the planner whose choice is spaced out.
    start_stride: g0 > 0, the gap at the block's start relative to its length (DUS section 4.4).
    """

    inner: Planner
    start_stride: float = 2.0

    summary = "dilated-spacing filter around any planner (option start_stride)"
    source = "Luxembourg, Permuter, Nachmani 2025 (arXiv 2506.19037), section 4.4"

    def __post_init__(self):
        if not isinstance(self.inner, Planner):
            raise ValueError(f"Spaced wraps a planner: pass one, e.g. Spaced(get_planner('threshold'), 2), "
                             f"got {self.inner!r}")
        checks.finite(f"{self.inner.name}: start_stride", self.start_stride, above=0, example=2,
                      note="leave it out (or 0 by name) for no spacing")

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def needs_rng(self) -> bool:
        return self.inner.needs_rng

    @property
    def memory_per_block(self) -> bool:
        return self.inner.memory_per_block

    @property
    def revises(self) -> bool:
        return self.inner.revises

    @property
    def verifies(self) -> bool:
        return self.inner.verifies

    def new_memory(self):
        return self.inner.new_memory()

    def revise(self, state: StepState, selected: torch.Tensor) -> torch.Tensor:
        return self.inner.revise(state, selected)

    def adjust_logits(self, logits: torch.Tensor, eligible: torch.Tensor, memory: list | None) -> torch.Tensor:
        return self.inner.adjust_logits(logits, eligible, memory)

    def steps_for(self, block_len: int, block_index: int, num_blocks: int) -> int | None:
        return self.inner.steps_for(block_len, block_index, num_blocks)

    def check(self, num_blocks: int, block_lengths: list[int]) -> None:
        self.inner.check(num_blocks, block_lengths)

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return self.inner.fallback_scores(state)

    def priority(self, state: StepState) -> torch.Tensor:
        return self.inner.priority(state)

    def select(self, state: StepState) -> torch.Tensor:
        candidates = self.inner.select(state) & state.eligible
        return space_out(candidates, self.inner.priority(state), state.masked_left, state.block_len,
                         self.start_stride)
