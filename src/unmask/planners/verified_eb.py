"""Verified EB: entropy-bounded drafting with WINO-style verification, unmask's own planner.

What the planner grid of BENCHMARKS.md shows, and what this planner takes from it:
- the entropy-bounded sampler draws the frontier on the bundled model's tasks: it commits as many low-entropy
  positions per call as a total-uncertainty budget allows (`cumsum - cummax <= gamma` bits over the positions sorted
  by entropy), so easy stretches go many tokens per call and hard ones few; fixed schedules (DUS, NFE-matched
  confidence) cannot adapt like that;
- its errors come from positions committed together that depend on each other: a budget on marginal entropies
  cannot see that two individually confident tokens contradict each other;
- WINO's verification sees exactly that, at no extra model call: in the same forward, every committed position is
  also predicted with its own token hidden, so a token that the rest of the answer (its partner included) no longer
  supports gets a low probability there.

So each call: (1) draft: commit the EB set of the masked positions (budget `gamma`); (2) verify: earlier commits of
the block whose probability with their own position hidden is below `tau_back` are re-masked, after a call that
committed more than one position, and at most one fewer than the previous call committed (WINO's rule, which keeps
a block of n positions within n calls). A re-masked position is drafted again later with everything else known.

Where it stands (BENCHMARKS.md, "Every planner on sudoku at B = 32", v3 weights): at gamma 0.5 it solves 95.3% in
2.2 calls per 32-token sudoku answer against EB's 92.2% in 2.1 (500 records: 96.0% against 94.4%), on the Pareto
front at that budget; it does not lead at every budget: below 2.1 calls Credit, threshold and EB are ahead, at gamma
0.1 it equals EB, and on digits every planner ties. The verification lengthens each forward (K mask tokens), so its
wall-clock speed-up trails its NFE speed-up. Like WINO it needs a model that can run the verification (LLaDA-style;
not Dream) and takes no cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks
from unmask.planners.base import StepState
from unmask.planners.entropy_bound import EntropyBound
from unmask.planners.wino import NarrowOut


@dataclass(frozen=True)
class VerifiedEB(NarrowOut):
    """Options:
    gamma: entropy budget in bits for the positions drafted together (larger: more per call).
    tau_back: re-mask earlier commits whose probability with their own position hidden is < tau_back.
    """

    gamma: float = 0.5
    tau_back: float = 0.9

    name = "verified_eb"
    summary = "unmask's own: EB-sampler drafts (budget gamma bits), WINO-style verification re-masks (< tau_back)"
    source = "unmask (planners/verified_eb.py); builds on Ben-Hamu et al. 2025 (EB) and Hong et al. 2025 (WINO)"

    def __post_init__(self):
        checks.finite("verified_eb: gamma", self.gamma, at_least=0, example=0.5, note="bits")
        checks.finite("verified_eb: tau_back", self.tau_back, at_least=0, at_most=1, example=0.9,
                      note="a probability")

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return -state.entropy

    def priority(self, state: StepState) -> torch.Tensor:
        return -state.entropy

    def select(self, state: StepState) -> torch.Tensor:
        return EntropyBound(gamma=self.gamma).select(state)
