"""The planner seam: what a planner sees (`StepState`) and what it must do (`Planner.select`).

A planner decides WHICH masked positions of the current block to commit after a model call. It sees only the
current block of every active row; the decode loop owns everything else and enforces the invariants (selection
inside the eligible set, at least one reveal per call, the block complete when its scheduled calls end).
A planner that needs to remember earlier calls (KLASS, Credit) says so with `new_memory`: the loop keeps the object it
returns for each row, hands it back in `StepState.memory`, and replaces it on a new block when `memory_per_block`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch

from unmask import scoring


@dataclass(frozen=True)
class StepState:
    """One call's view of the current block of each active row (A rows, blocks padded to K positions).

    `step`, `block_index` and `block_len` are host (CPU) bookkeeping; `eligible`, `logits` and `proposal` live on the
    model's device, and a planner returns its selection there.

    Attributes:
        step: LongTensor (A,), 0-based index of this call within the row's current block.
        block_index: LongTensor (A,), index of the row's current block.
        block_len: LongTensor (A,), true length of the row's current block (<= K; only the last block is shorter).
        eligible: BoolTensor (A, K), masked positions inside the block: the only ones a planner may select.
        logits: FloatTensor (A, K, V), filtered (top-k/top-p) logits of the block positions.
        proposal: LongTensor (A, K), the token each position would take if committed now.
        num_blocks: blocks in the whole generation (budget planners split their calls over them).
        generators: one torch.Generator per row (for random planners), or None when no seed stream is needed.
        memory: one object per row, made by the planner's `new_memory` and kept by the loop (None for planners without
            memory); the planner reads and updates it in place.
    """

    step: torch.Tensor
    block_index: torch.Tensor
    block_len: torch.Tensor
    eligible: torch.Tensor
    logits: torch.Tensor
    proposal: torch.Tensor
    num_blocks: int = 1
    generators: list[torch.Generator] | None = None
    memory: list[Any] | None = None

    @cached_property
    def probs(self) -> torch.Tensor:
        """Float64 probabilities (A, K, V)."""
        return scoring.probabilities(self.logits)

    @cached_property
    def confidence(self) -> torch.Tensor:
        """Probability of the proposed token, (A, K) float64."""
        return scoring.confidence(self.probs, self.proposal)

    @cached_property
    def entropy(self) -> torch.Tensor:
        """Predictive entropy in bits, (A, K) float64."""
        return scoring.entropy_bits(self.probs)

    @cached_property
    def masked_left(self) -> torch.Tensor:
        """Masked positions left in each row's block, LongTensor (A,)."""
        return self.eligible.sum(-1)


class Planner:
    """Base class. Subclasses are frozen dataclasses whose fields are their options (each with a default).

    Class attributes:
        name: registry name.
        summary: one line for `unmask planners`.
        source: the paper or code it follows.
        needs_rng: True when `select` draws random numbers (`state.generators` is then set, one stream per row).
        memory_per_block: True when the loop replaces a row's memory with a fresh `new_memory()` on each new block
            (else it lasts the row's whole decode).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""
    needs_rng: ClassVar[bool] = False
    memory_per_block: ClassVar[bool] = False

    def new_memory(self) -> Any:
        """A fresh memory for one row (None: the planner remembers nothing between calls). The loop keeps it for the
        row, passes it in `StepState.memory` (and to `adjust_logits`), and never looks inside."""
        return None

    def adjust_logits(self, logits: torch.Tensor, eligible: torch.Tensor, memory: list[Any] | None) -> torch.Tensor:
        """The logits the proposal and the planner's scores are taken from, after the top-k/top-p filter (default:
        unchanged). A planner that fuses its memory into the predictions (Credit) overrides this.

        Args:
            logits: FloatTensor (A, K, V); eligible: BoolTensor (A, K); memory: the rows' memories (see `new_memory`).
        Returns:
            FloatTensor (A, K, V).
        """
        return logits

    def steps_for(self, block_len: int, block_index: int, num_blocks: int) -> int | None:
        """Model calls the block takes, when known ahead; None for adaptive planners."""
        return None

    def select(self, state: StepState) -> torch.Tensor:
        """Positions to commit now: BoolTensor (A, K), a subset of `state.eligible`."""
        raise NotImplementedError

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        """Ranks the one reveal the loop forces when `select` chose nothing: FloatTensor (A, K), higher first.
        Default: the proposal's logit (no softmax); planners that rank by confidence reuse `state.confidence`."""
        return state.logits.gather(-1, state.proposal.unsqueeze(-1)).squeeze(-1)

    def priority(self, state: StepState) -> torch.Tensor:
        """How the planner ranks the block's positions, higher first: FloatTensor (A, K). A post-selection filter
        (`Spaced`) visits the planner's choice in this order. Default: `fallback_scores`."""
        return self.fallback_scores(state)

    def check(self, num_blocks: int, block_lengths: list[int]) -> None:
        """Raise ValueError, naming the fix, when the options cannot work with this decode. Called before any model call."""

    @classmethod
    def options(cls) -> dict[str, object]:
        """Option names and their defaults."""
        return {f.name: f.default for f in dataclasses.fields(cls)}


def top_k_mask(scores: torch.Tensor, eligible: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The k highest-scoring eligible positions of each row (ties go to the lower position).

    Args:
        scores: FloatTensor (A, K); eligible: BoolTensor (A, K); k: LongTensor (A,).
    Returns:
        BoolTensor (A, K).
    """
    ranked = scores.masked_fill(~eligible, -torch.inf)
    order = torch.sort(ranked, dim=-1, descending=True, stable=True).indices  # (A, K)
    positions = torch.arange(order.shape[-1], device=order.device).expand_as(order)
    rank = torch.empty_like(order).scatter_(-1, order, positions)
    return eligible & (rank < k.to(order.device).unsqueeze(-1))


def best_position(scores: torch.Tensor, eligible: torch.Tensor) -> torch.Tensor:
    """One-hot of the highest-scoring eligible position per row (none for rows with nothing eligible). (A, K) -> (A, K)."""
    return top_k_mask(scores, eligible, torch.ones(scores.shape[0], dtype=torch.long, device=scores.device))


def enforce_invariants(selected: torch.Tensor, state: StepState, scheduled: torch.Tensor,
                       fallback: torch.Tensor) -> torch.Tensor:
    """What every decode loop guarantees whatever the planner chose: at least one reveal per row that still has masked
    positions, and everything left revealed on a block's last scheduled call. Branch-free (no device synchronisation).

    Args:
        selected: BoolTensor (A, K), the planner's choice, already inside `state.eligible`.
        scheduled: LongTensor (A,) on the host, calls each row's block is scheduled for (0: adaptive, no last call).
        fallback: FloatTensor (A, K), ranks the forced reveal of a row the planner left empty
            (`planner.fallback_scores(state)`).
    Returns:
        BoolTensor (A, K).
    """
    eligible = state.eligible
    empty = ~selected.any(-1) & eligible.any(-1)  # (A,)
    selected = selected | (best_position(fallback, eligible) & empty[:, None])
    last = ((scheduled > 0) & (state.step + 1 >= scheduled)).to(selected.device)
    return torch.where(last[:, None], eligible, selected)


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` split into `parts` integers, the remainder spread one each over the first parts (LLaDA's split)."""
    base, rest = divmod(total, parts)
    return [base + (i < rest) for i in range(parts)]
