"""KLASS: KL-adaptive stability sampling.

After each model call, a masked position is "ready" when its predictive distribution has been stable over the last
`history` calls (every KL divergence KL(p_t || p_{t-1}) between consecutive calls below `kl_threshold`) and its
proposal is confident (probability > `tau`). Every ready position is committed at once; a call with none ready
falls back to the confidence top-k of a fixed budget (LLaDA's even split of the block over its calls).

Source: Kim et al. 2025, "KLASS: KL-Guided Fast Inference in Masked Diffusion Models" (NeurIPS 2025,
arXiv 2511.05664); official code shkim0116/KLASS, `src/model/llada_klass.py` (`stable_confident_decode`,
alg="klass", unmask_strategy="all"), read to get these details right:
- KL in float64 with eps 1e-12 inside both logarithms: sum_v p_t (log(p_t + eps) - log(p_{t-1} + eps));
  confidence strictly above `tau`; stability needs all `history` KLs below `kl_threshold`.
- The fallback reveals `get_num_transfer_tokens` of the block's masks over `steps // num_blocks` calls at the
  block's call index, by confidence: our `steps` and its even split (`confidence`'s budget).

Where we differ, on purpose:
- Memory is per block. The official code keeps the previous distributions of the whole sequence, so at the second
  call of a block (history 2) it can already use the KL between that block's first call and the previous block's
  last call, made while the block was still in the future. A planner here sees only the current block's logits,
  so a KL without a previous in-block call counts as unstable: in the first block both agree (the official first
  call compares against zeros, a KL of about 27 nats); from the second block on, a position can become ready one
  call later than in the official code.
- The block ends when its scheduled calls end (the last commits what is left). The official loop stops after
  `steps // num_blocks` calls even when ready sets smaller than the fallback's k left masks in the block, and those
  stay [MASK] in its output; where its fallback asks for more positions than are masked, `torch.topk` takes
  decoded (and prompt) positions too and overwrites them with the prediction. Here only masked positions of the
  block are committed, and every block is complete.
- With temperature > 0 the official code takes probabilities from the Gumbel-perturbed scores; here they are the
  model's (filtered) probabilities, and only the proposal is sampled.

Checked against the official function on the bundled model (`benchmarks/official_memory_planners.py`, greedy,
sudoku prompts, tau/kl 0.9/0.01 and 0.6/0.015, history 2): one block (G = B = 32) gives the same tokens and the same
number of calls in 48 of 48 decodes; with several blocks (G/B = 64/16, 64/32) 85 of 96 give the same tokens and 23
of 96 the same number of calls, as the first point above explains.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks
from unmask.planners.base import StepState
from unmask.planners.confidence import Confidence

EPS = 1e-12  # inside both logarithms of the KL, as in the official code


class KLHistory:
    """One row's memory for the current block: the last call's log-probabilities (K, V) and the last `history`
    KL divergences per position (K, H), oldest first; both None before the block's first call."""

    def __init__(self):
        self.log_probs: torch.Tensor | None = None
        self.kl: torch.Tensor | None = None


@dataclass(frozen=True)
class KLASS(Confidence):
    """Options:
    tau: a position is ready only when its proposal's probability is > tau.
    kl_threshold: ... and the KL between each of its last `history` pairs of consecutive distributions is < this.
    history: how many consecutive KLs must be small (>= 1).
    steps, match, schedule: the fallback's budget when no position is ready, as for `confidence` (default: one
    token per call); the block is complete when those calls end.
    """

    tau: float = 0.9
    kl_threshold: float = 0.01
    history: int = 2

    name = "klass"
    summary = "KLASS: commit confident positions whose distribution is stable across calls (KL), else top-k"
    source = "Kim et al. 2025 (arXiv 2511.05664), shkim0116/KLASS llada_klass.py"
    memory_per_block = True

    def __post_init__(self):
        checks.finite("klass: tau", self.tau, at_least=0, at_most=1, example=0.9, note="a probability")
        checks.finite("klass: kl_threshold", self.kl_threshold, at_least=0, example=0.01, note="nats")
        checks.integer("klass: history", self.history, at_least=1, example=2)
        super().__post_init__()

    def new_memory(self) -> KLHistory:
        return KLHistory()

    def stable(self, state: StepState) -> torch.Tensor:
        """Record this call's distributions in each row's memory; BoolTensor (A, K): the last `history` KLs are all
        below `kl_threshold`."""
        log_probs = torch.log(state.probs + EPS)  # (A, K, V) float64
        A, K = state.eligible.shape
        unknown = torch.full((A, K, self.history), torch.inf, dtype=torch.float64, device=log_probs.device)
        kl = torch.full((A, K), torch.inf, dtype=torch.float64, device=log_probs.device)
        for i, memory in enumerate(state.memory):
            if memory.log_probs is not None:
                kl[i] = (state.probs[i] * (log_probs[i] - memory.log_probs)).sum(-1)
                unknown[i] = memory.kl
        history = torch.cat([unknown[..., 1:], kl[..., None]], -1)  # (A, K, H), newest last
        for i, memory in enumerate(state.memory):
            memory.log_probs, memory.kl = log_probs[i], history[i]
        return (history < self.kl_threshold).all(-1)

    def select(self, state: StepState) -> torch.Tensor:
        ready = self.stable(state) & (state.confidence > self.tau) & state.eligible  # (A, K)
        return torch.where(ready.any(-1, keepdim=True), ready, super().select(state))
