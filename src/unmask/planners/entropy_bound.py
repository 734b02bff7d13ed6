"""The entropy-bounded (EB) sampler.

Sort the block's masked positions by entropy (bits), lowest first, and commit the largest prefix whose entropies
satisfy `cumsum - cummax <= gamma` (at least one): tokens are added while the total uncertainty of the others
stays within the bound. Source: Ben-Hamu et al. 2025, "Accelerated Sampling from Masked Diffusion Models via
Entropy Bounded Unmasking"; as run in the DUS code (`generate_eb_sampler`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks, scoring
from unmask.planners.base import Planner, StepState, top_k_mask
from unmask.planners.spacing import space_out


@dataclass(frozen=True)
class EntropyBound(Planner):
    """Options:
    gamma: entropy budget in bits for the tokens committed together (larger: more per call).
    start_stride: dilated-spacing filter g0 (DUS section 4.4); 0 turns it off.
    """

    gamma: float = 0.1
    start_stride: float = 0

    name = "entropy_bound"
    summary = "EB-sampler: commit the lowest-entropy positions while cumsum - cummax <= gamma bits"
    source = "Ben-Hamu et al. 2025 (EB-sampler); DUS generate_eb_sampler"

    def __post_init__(self):
        checks.finite("entropy_bound: gamma", self.gamma, at_least=0, example=0.1, note="bits")
        checks.finite("entropy_bound: start_stride", self.start_stride, at_least=0, example=2, note="0 is off")

    def select(self, state: StepState) -> torch.Tensor:
        entropy = scoring.entropy_bits(state.probs).masked_fill(~state.eligible, torch.inf)  # (A, K)
        ascending = torch.sort(entropy, dim=-1, stable=True).values
        finite = torch.isfinite(ascending)
        values = ascending.masked_fill(~finite, 0.0)
        within = (values.cumsum(-1) - values.cummax(-1).values <= self.gamma) & finite  # (A, K)
        k = within.sum(-1).clamp(min=1)  # (A,)
        candidates = top_k_mask(-entropy, state.eligible, k)
        if self.start_stride:
            candidates = space_out(candidates, -entropy, state.masked_left, state.block_len, self.start_stride)
        return candidates
