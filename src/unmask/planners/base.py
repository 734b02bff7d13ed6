"""The planner seam: what a planner sees (`StepState`) and what it must do (`Planner.select`).

A planner decides WHICH masked positions of the current block to commit after a model call. It sees only the
current block of every active row; the decode loop owns everything else and enforces the invariants (selection
inside the eligible set, at least one reveal per call, the block complete when its scheduled calls end).
A planner that needs to remember earlier calls (KLASS, Credit) says so with `new_memory`: the loop keeps the object it
returns for each row, hands it back in `StepState.memory`, and replaces it on a new block when `memory_per_block`.
A planner that revises (WINO) says so with `revises` and returns, from `revise`, committed positions to re-mask; with
`verifies` it also sees each committed position predicted with its own token hidden (`StepState.verify_logits`).
The loop bounds revision (`bound_remasks`): a block that starts with n masked positions takes at most n calls.
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
        current: LongTensor (A, K), the block's tokens before this call's commit (`mask_id` where masked).
        committed: BoolTensor (A, K), generated positions of the block committed by earlier calls: the only ones a
            revising planner may re-mask (None where the caller does not say).
        verify_logits: FloatTensor (A, K, V), each block position's logits with its own token hidden, from the same
            model call; set only for planners that declare `verifies`.
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
    current: torch.Tensor | None = None
    committed: torch.Tensor | None = None
    verify_logits: torch.Tensor | None = None

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
    def verify_confidence(self) -> torch.Tensor:
        """Probability of each position's current token when that position is hidden, (A, K) float64 (from
        `verify_logits`; meaningful on committed positions)."""
        if self.verify_logits is None:
            raise ValueError("verify_confidence needs verify_logits: the planner must declare verifies = True")
        if self.current is None:
            raise ValueError("verify_confidence needs the block's current tokens (StepState.current)")
        return scoring.confidence(scoring.probabilities(self.verify_logits), self.current)

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
        revises: True when the planner may re-mask committed positions (`revise`); such planners are adaptive.
        verifies: True when the planner needs `StepState.verify_logits` (the model then runs a verification call).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""
    needs_rng: ClassVar[bool] = False
    memory_per_block: ClassVar[bool] = False
    revises: ClassVar[bool] = False
    verifies: ClassVar[bool] = False

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

    def revise(self, state: StepState, selected: torch.Tensor) -> torch.Tensor:
        """Committed positions to re-mask after this call's commit (only called when `revises`): BoolTensor (A, K), a
        subset of `state.committed`; the loop trims it with `bound_remasks`. `selected` is the call's final commit."""
        return torch.zeros_like(selected)

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


def bound_remasks(remask: torch.Tensor, state: StepState, selected: torch.Tensor) -> torch.Tensor:
    """What the loop guarantees a revising planner: only positions committed by earlier calls of the block are
    re-masked (never the prompt, never this call's commits), and after a block's t-th call at least t of its
    positions stay committed, so a block that starts with n masked positions takes at most n calls. Re-masks over
    that allowance are dropped, the least supported kept first (lowest `verify_confidence` when the planner verifies,
    else the leftmost).

    Args:
        remask: BoolTensor (A, K), the planner's choice; selected: BoolTensor (A, K), this call's commit.
    Returns:
        BoolTensor (A, K).
    """
    remask = remask & state.committed
    kept = (state.committed | selected).sum(-1)  # (A,) committed after this call, before any re-mask
    allowed = (kept - (state.step.to(kept.device) + 1)).clamp(min=0)
    if state.verify_logits is not None:
        rank = -state.verify_confidence
    else:
        rank = -torch.arange(remask.shape[1], device=remask.device, dtype=torch.float64).expand(remask.shape)
    return top_k_mask(rank, remask, allowed)


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` split into `parts` integers, the remainder spread one each over the first parts (LLaDA's split)."""
    base, rest = divmod(total, parts)
    return [base + (i < rest) for i in range(parts)]
