"""WINO: wide-in, narrow-out revocable decoding.

Each call drafts generously and then takes back what the rest of the answer no longer supports:
- wide in: every masked position of the block whose proposal has probability > `tau` is committed, at most
  `min(max(int(0.7 * masked), 5), 20)` of them (the most confident), and at least the most confident one;
- narrow out: the same model call also predicts every committed position of the block with its own token hidden
  (`StepState.verify_logits`, from K mask tokens appended after the sequence at the block's positions, each
  blind to its own column). A committed token whose probability there is below `tau_back` is re-masked, when this
  call committed more than one position; if as many positions qualify as the previous call committed, only the
  `previous - 1` least supported are re-masked. Tokens committed by this call are never re-masked by it.

The re-mask rule keeps the loop's bound by itself: a call re-masks at most one fewer than the previous call
committed, so after t calls a block holds at least t committed positions (`bound_remasks` never trims WINO).

Source: Hong et al. 2025, "Wide-In, Narrow-Out: Revokable Decoding for Efficient and Effective DLLMs"
(arXiv 2507.18578); official code Feng-Hong/WINO-DLLM, `LLaDA/decoding.py` (`decoding_wino`), read for these details:
- the accept cap is `int(masked * 0.7)` of a tensor, computed in float32 as there;
- the previous call's count starts at 30 on each block; the verification probabilities are float64 softmaxes of
  the unfiltered logits; thresholds are strict (`> tau`, `< tau_back`).
Where we differ: the official code decodes one sequence at a time (ties inside `torch.topk` fall where the kernel
puts them); here rows are batched and ties go to the lower position. With temperature > 0 the official code reads
probabilities of Gumbel-perturbed argmaxes; here only the proposal is sampled. The official defaults are
tau 0.6 / tau_back 0.9 (its sudoku config uses 0.7 / 0.9).

Checked against the official function on the bundled model: `benchmarks/official_wino.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from unmask import checks
from unmask.planners.base import Planner, StepState, best_position, top_k_mask

ACCEPT_FRACTION, MIN_ACCEPT, MAX_ACCEPT = 0.7, 5, 20  # the official accept cap
FIRST_PREVIOUS = 30  # the official "previous call committed" count at a block's start


class AcceptCount:
    """One row's memory for the current block: how many positions the previous call committed."""

    def __init__(self):
        self.previous = FIRST_PREVIOUS


class NarrowOut(Planner):
    """The revising half WINO and verified EB share: each row remembers its previous call's commit count
    (`AcceptCount`, per block), and `revise` applies `narrow_out` with the subclass's `tau_back` option."""

    tau_back: float
    memory_per_block: ClassVar[bool] = True
    revises: ClassVar[bool] = True
    verifies: ClassVar[bool] = True

    def new_memory(self) -> AcceptCount:
        return AcceptCount()

    def revise(self, state: StepState, selected: torch.Tensor) -> torch.Tensor:
        return narrow_out(state, selected, self.tau_back)


@dataclass(frozen=True)
class WINO(NarrowOut):
    """Options:
    tau: commit masked positions whose confidence is > tau (wide in).
    tau_back: re-mask committed positions whose probability with their own token hidden is < tau_back (narrow out).
    """

    tau: float = 0.6
    tau_back: float = 0.9

    name = "wino"
    summary = "WINO wide-in narrow-out: draft above tau, re-mask commits the rest no longer supports (< tau_back)"
    source = "Hong et al. 2025, arXiv 2507.18578; Feng-Hong/WINO-DLLM LLaDA/decoding.py (decoding_wino)"

    def __post_init__(self):
        checks.finite("wino: tau", self.tau, at_least=0, at_most=1, example=0.6, note="a probability")
        checks.finite("wino: tau_back", self.tau_back, at_least=0, at_most=1, example=0.9, note="a probability")

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return state.confidence

    def select(self, state: StepState) -> torch.Tensor:
        conf = state.confidence  # (A, K)
        over = state.eligible & (conf > self.tau)
        cap = (state.masked_left.float() * ACCEPT_FRACTION).long().clamp(MIN_ACCEPT, MAX_ACCEPT)  # float32, as WINO
        capped = top_k_mask(conf, state.eligible, cap.to(conf.device))
        too_many = over.sum(-1) > cap.to(conf.device)
        return torch.where(too_many[:, None], capped, over) | best_position(conf, state.eligible)


def narrow_out(state: StepState, selected: torch.Tensor, tau_back: float) -> torch.Tensor:
    """WINO's re-mask rule: earlier commits whose probability with their own position hidden is < `tau_back`, after a
    call that committed more than one position; when as many qualify as the previous call committed, only the
    `previous - 1` least supported. Updates each row's `AcceptCount`.

    Args:
        state: the call's StepState (with `verify_logits`, `committed` and `AcceptCount` memories).
        selected: BoolTensor (A, K), this call's commit.
    Returns:
        BoolTensor (A, K), positions to re-mask.
    """
    support = state.verify_confidence  # (A, K) float64
    doubted = state.committed & (support < tau_back)
    accepted = selected.sum(-1)  # (A,)
    previous = torch.tensor([m.previous for m in state.memory], device=selected.device)
    for memory, count in zip(state.memory, accepted.tolist()):
        memory.previous = count
    narrowed = top_k_mask(-support, doubted, (previous - 1).clamp(min=0))
    remask = torch.where((doubted.sum(-1) >= previous)[:, None], narrowed, doubted)
    return remask & (accepted > 1)[:, None]
