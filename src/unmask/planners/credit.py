"""Credit decoding: a confidence threshold on logits fused with credit accumulated across calls.

Each call, every masked position adds credit to its current top-1 token, `p_top1 ** gamma`, after the whole
block's credit decays by `beta`; the proposal and the confidence then come from the fused logits
`logits + alpha * log(1 + credit)`, so a token the model kept predicting call after call gains probability. A call
commits every masked position whose fused confidence is >= `tau`, and always the most confident ones (within 1e-5
of the row's best).

Source: dInfer (Ma et al. 2025, "dInfer: An Efficient Inference Framework for Diffusion Language Models",
arXiv 2510.06133), official code inclusionAI/dInfer, `python/dinfer/decoding/parallel_strategy.py`
(`CreditThresholdParallelDecoder`, with `get_transfer_index_threshold`), read to get these details right:
- credit is a (K, V) matrix per block, float32; top-1 from a float32 softmax of the raw (unfused) logits; only
  masked positions add credit; the decay applies from the block's second call on (on zeros it changes nothing).
- the rule commits `conf >= min(max_conf - 1e-5, tau)` over the block's masked positions.
- defaults alpha 0.7, gamma 0.2, beta 0.8 (the decoder's); tau 0.9 (dInfer passes its own threshold).

Where we differ, on purpose:
- The official decoder keys its credit by block span and clears it only when the whole sequence has no mask left,
  so a generation that stops early (EOS) leaves its credit to the next one with the same block span; here credit
  belongs to the row and is fresh on each block.
- The fused confidence is a float64 softmax (the official one float32), as for every unmask planner.
- The official proposal may be [MASK] (such a position is then left masked); unmask never proposes [MASK], so its
  next-best token is proposed instead.
- dInfer's loop may unroll several calls without looking at the block (`maximum_unroll`), spending calls on a full
  block; here no call is made for a full block.

Checked against the official decoder on the bundled model (`benchmarks/official_memory_planners.py`, greedy, sudoku
prompts, tau 0.9 / 0.7 / 0.5, G/B = 32/32, 64/16, 64/32): the same tokens and the same number of calls in 216 of 216
decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks
from unmask.planners.base import Planner, StepState

TIE = 1e-5  # positions within this of the row's best confidence are committed with it


class CreditMatrix:
    """One row's memory for the current block: the credit of each (position, token), FloatTensor (K, V) float32,
    None before the block's first call."""

    def __init__(self):
        self.credit: torch.Tensor | None = None


@dataclass(frozen=True)
class Credit(Planner):
    """Options:
    tau: commit every masked position whose fused confidence is >= tau (and the most confident).
    alpha: weight of log(1 + credit) added to the logits.
    gamma: each call adds p_top1 ** gamma to the top-1 token's credit (gamma < 1 boosts unsure tokens).
    beta: the credit decays by this factor per call.
    """

    tau: float = 0.9
    alpha: float = 0.7
    gamma: float = 0.2
    beta: float = 0.8

    name = "credit"
    summary = "Credit decoding: threshold on logits fused with per-token credit accumulated across calls"
    source = "Ma et al. 2025, dInfer (arXiv 2510.06133), CreditThresholdParallelDecoder"
    memory_per_block = True

    def __post_init__(self):
        checks.finite("credit: tau", self.tau, at_least=0, at_most=1, example=0.9, note="a probability")
        checks.finite("credit: alpha", self.alpha, at_least=0, example=0.7, note="0 is the plain threshold")
        checks.finite("credit: gamma", self.gamma, at_least=0, example=0.2)
        checks.finite("credit: beta", self.beta, at_least=0, at_most=1, example=0.8, note="1 never forgets")

    def new_memory(self) -> CreditMatrix:
        return CreditMatrix()

    def adjust_logits(self, logits: torch.Tensor, eligible: torch.Tensor, memory: list) -> torch.Tensor:
        """Decay and add this call's credit in each row's memory; return the fused logits (A, K, V)."""
        credit = torch.stack([m.credit if m.credit is not None else
                              torch.zeros(logits.shape[1:], dtype=torch.float32, device=logits.device)
                              for m in memory]) * self.beta  # (A, K, V)
        top1, token = torch.softmax(logits.float(), dim=-1).max(-1)  # (A, K) each
        credit.scatter_add_(-1, token[..., None], (top1.pow(self.gamma) * eligible)[..., None])
        for i, m in enumerate(memory):
            m.credit = credit[i]
        return logits + self.alpha * torch.log(credit + 1)

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return state.confidence

    def select(self, state: StepState) -> torch.Tensor:
        conf = state.confidence.masked_fill(~state.eligible, -torch.inf)  # (A, K)
        bar = (conf.max(-1).values - TIE).clamp(max=self.tau)  # (A,)
        return state.eligible & (conf >= bar[:, None])
