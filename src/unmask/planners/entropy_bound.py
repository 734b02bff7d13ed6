"""The entropy-bounded (EB) sampler.

Sort the block's masked positions by entropy (bits), lowest first, and commit the largest prefix whose entropies
satisfy `cumsum - cummax <= gamma` (at least one): tokens are added while the total uncertainty of the others
stays within the bound. Source: Ben-Hamu et al. 2025, "Accelerated Sampling from Masked Diffusion Models via
Entropy Bounded Unmasking"; as run in the DUS code (`generate_eb_sampler`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks
from unmask.planners.base import Planner, StepState, top_k_mask


@dataclass(frozen=True)
class EntropyBound(Planner):
    """Options:
    gamma: entropy budget in bits for the tokens committed together (larger: more per call).
    """

    gamma: float = 0.1

    name = "entropy_bound"
    summary = "EB-sampler: commit the lowest-entropy positions while cumsum - cummax <= gamma bits"
    source = "Ben-Hamu et al. 2025 (EB-sampler); DUS generate_eb_sampler"

    def __post_init__(self):
        checks.finite("entropy_bound: gamma", self.gamma, at_least=0, example=0.1, note="bits")

    def priority(self, state: StepState) -> torch.Tensor:
        """Lowest entropy first."""
        return -state.entropy

    def select(self, state: StepState) -> torch.Tensor:
        entropy = state.entropy.masked_fill(~state.eligible, torch.inf)  # (A, K)
        ascending = torch.sort(entropy, dim=-1, stable=True).values
        finite = torch.isfinite(ascending)
        values = ascending.masked_fill(~finite, 0.0)
        within = (values.cumsum(-1) - values.cummax(-1).values <= self.gamma) & finite  # (A, K)
        k = within.sum(-1).clamp(min=1)  # (A,)
        return top_k_mask(-entropy, state.eligible, k)
