"""Top-k planners with a fixed call budget: LLaDA's `low_confidence`, Dream's `topk_margin` and `entropy`,
random order, and left-to-right.

Budget: `steps` model calls for the whole generation (default: one token per call), split evenly over the blocks
with the remainder going one each to the first blocks. Inside a block the k revealed per call follow LLaDA's
`get_num_transfer_tokens`: the block's masks split evenly over its calls, the remainder going to the first calls.
`match="dilated"` instead uses the DUS group sizes of each block as k per call: the NFE-matched baseline.
`schedule="dream"` instead follows Dream's `diffusion_generate` timestep schedule: with n masks left at call i of
`steps`, it reveals `int(n * (1 - s/t))` (t, s consecutive points of `linspace(1, 1e-3, steps + 1)`, in float32 as
Dream computes them) and everything on the last call. Dream spends a model call even where that is 0; those calls
change no token, so unmask skips them: the same tokens in fewer calls, and NFE counts only the calls made.

Sources: Nie et al. 2025 "Large Language Diffusion Models" (LLaDA, `generate.py`); Ye et al. 2025 "Dream 7B"
(`generation_utils.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks, scoring
from unmask.planners.base import Planner, StepState, split_evenly, top_k_mask
from unmask.planners.dilated import dilated_groups

MATCH_MODES = (None, "dilated")
SCHEDULES = ("even", "dream")


@dataclass(frozen=True)
class _BudgetPlanner(Planner):
    """Options:
    steps: model calls for the whole generation, split evenly over blocks (None: one token per call).
    match: "dilated" to reveal as many tokens per call as DUS would (steps then follow DUS).
    schedule: how a block's tokens spread over its calls: "even" (LLaDA's split) or "dream" (Dream's timesteps).
    """

    steps: int | None = None
    match: str | None = None
    schedule: str = "even"

    def __post_init__(self):
        if self.steps is not None:
            checks.integer(f"{self.name}: steps", self.steps, at_least=1, example=64, note="None is one token per call")
        if self.match not in MATCH_MODES:
            raise ValueError(f"{self.name}: match must be 'dilated' or None, got {self.match!r}")
        if self.steps is not None and self.match is not None:
            raise ValueError(f"{self.name}: give steps or match, not both (match='dilated' fixes the steps)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"{self.name}: schedule must be 'even' or 'dream', got {self.schedule!r}")
        if self.schedule == "dream" and self.match is not None:
            raise ValueError(f"{self.name}: schedule='dream' sets the tokens per call itself; drop match=")

    def check(self, num_blocks: int, block_lengths: list[int]) -> None:
        """Every block needs a call, and no block may be given more calls than it has positions (a call reveals at
        least one token, so the extra calls would silently not happen)."""
        if self.steps is None:
            return
        if self.steps < num_blocks:
            raise ValueError(
                f"{self.name}: steps={self.steps} is fewer than the {num_blocks} blocks; use steps >= {num_blocks} "
                f"or a larger block_length"
            )
        most = self.most_steps(block_lengths)
        if self.steps > most:
            raise ValueError(
                f"{self.name}: steps={self.steps} cannot all be spent on {sum(block_lengths)} generated positions in "
                f"blocks of {block_lengths[0]} (each call reveals at least one token of its block): use steps <= "
                f"{most}, or a larger gen_length"
            )

    @staticmethod
    def most_steps(block_lengths: list[int]) -> int:
        """The largest budget whose even split over the blocks gives no block more calls than it has positions."""
        steps = sum(block_lengths)
        while any(s > n for s, n in zip(split_evenly(steps, len(block_lengths)), block_lengths)):
            steps -= 1
        return steps

    def _block_steps(self, block_len: int, block_index: int, num_blocks: int) -> int:
        if self.match == "dilated":
            return len(dilated_groups(block_len))
        if self.steps is None:
            return block_len
        return split_evenly(self.steps, num_blocks)[block_index]

    def steps_for(self, block_len: int, block_index: int, num_blocks: int) -> int:
        return len(self.per_call(block_len, block_index, num_blocks))

    def per_call(self, block_len: int, block_index: int, num_blocks: int) -> list[int]:
        """Tokens revealed by each call of the block (sums to block_len; every entry >= 1)."""
        if self.match == "dilated":
            return [len(g) for g in dilated_groups(block_len)]
        steps = self._block_steps(block_len, block_index, num_blocks)
        if self.schedule == "dream":
            return [k for k in dream_schedule(block_len, steps) if k > 0]
        return split_evenly(block_len, min(block_len, steps))

    def scores(self, state: StepState) -> torch.Tensor:
        """Priority of each block position, higher first. (A, K)."""
        raise NotImplementedError

    def priority(self, state: StepState) -> torch.Tensor:
        return self.scores(state)

    def select(self, state: StepState) -> torch.Tensor:
        k = torch.tensor([  # (A,) tokens each row reveals now
            self._k_at(int(n), int(b), state.num_blocks, int(s))
            for n, b, s in zip(state.block_len, state.block_index, state.step)
        ])
        return top_k_mask(self.scores(state), state.eligible, k)

    def _k_at(self, block_len: int, block_index: int, num_blocks: int, step: int) -> int:
        schedule = self.per_call(block_len, block_index, num_blocks)
        return schedule[step] if step < len(schedule) else block_len


def dream_schedule(masks: int, steps: int, eps: float = 1e-3) -> list[int]:
    """Tokens Dream's `diffusion_generate` reveals at each of `steps` calls, starting from `masks` masked positions
    (zeros included: the calls that reveal nothing). Computed in float32 with torch, as Dream does, so that the
    truncation to int falls the same way."""
    timesteps = torch.linspace(1, eps, steps + 1)
    left, out = masks, []
    for i in range(steps):
        n = torch.tensor(left) / 1  # Dream's `mask_index.sum() / batch`: a float32 tensor
        k = int(n * (1 - timesteps[i + 1] / timesteps[i])) if i < steps - 1 else left
        out.append(k)
        left -= k
    return out


@dataclass(frozen=True)
class Confidence(_BudgetPlanner):
    __doc__ = _BudgetPlanner.__doc__
    name = "confidence"
    summary = "LLaDA low_confidence: top-k by probability of the proposed token"
    source = "Nie et al. 2025, LLaDA generate.py (remasking='low_confidence')"

    def scores(self, state: StepState) -> torch.Tensor:
        return state.confidence

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return state.confidence


@dataclass(frozen=True)
class Margin(_BudgetPlanner):
    __doc__ = _BudgetPlanner.__doc__
    name = "margin"
    summary = "Dream topk_margin: top-k by top-1 minus top-2 probability"
    source = "Ye et al. 2025, Dream generation_utils.py (alg='topk_margin')"

    def scores(self, state: StepState) -> torch.Tensor:
        return scoring.margin(state.probs)


@dataclass(frozen=True)
class Entropy(_BudgetPlanner):
    __doc__ = _BudgetPlanner.__doc__
    name = "entropy"
    summary = "Dream entropy: top-k by lowest predictive entropy"
    source = "Ye et al. 2025, Dream generation_utils.py (alg='entropy')"

    def scores(self, state: StepState) -> torch.Tensor:
        return scoring.neg_entropy(state.probs)


@dataclass(frozen=True)
class Random(_BudgetPlanner):
    __doc__ = _BudgetPlanner.__doc__
    name = "random"
    summary = "random order with the same budget (seeded per row)"
    source = "Nie et al. 2025, LLaDA generate.py (remasking='random')"
    needs_rng = True

    def priority(self, state: StepState) -> torch.Tensor:
        """The proposal's logit: a second random draw would move the row's stream."""
        return self.fallback_scores(state)

    def scores(self, state: StepState) -> torch.Tensor:
        width = state.eligible.shape[1]
        scores = torch.stack([torch.rand(width, generator=g, dtype=torch.float64) for g in state.generators])
        return scores.to(state.eligible.device)


@dataclass(frozen=True)
class LeftToRight(Planner):
    """No options: one token per call, leftmost first (the autoregressive order)."""

    name = "left_to_right"
    summary = "one token per call, left to right (autoregressive-order baseline)"
    source = "autoregressive order"

    def steps_for(self, block_len: int, block_index: int, num_blocks: int) -> int:
        return block_len

    def select(self, state: StepState) -> torch.Tensor:
        leftmost = -torch.arange(state.eligible.shape[1], dtype=torch.float64, device=state.eligible.device)
        return top_k_mask(leftmost.expand(state.eligible.shape), state.eligible,
                          torch.ones(state.eligible.shape[0], dtype=torch.long))
