"""Confidence-threshold parallel decoding (Fast-dLLM; "CB" in the DUS paper).

Each call commits every masked position of the block whose proposal has probability >= `tau`, and always the most
confident one, so the number of calls adapts to the model's certainty. Source: Wu et al. 2025, "Fast-dLLM:
Training-free Acceleration of Diffusion LLM by Enabling KV Cache and Parallel Decoding" (`llada/generate.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unmask import checks
from unmask.planners.base import Planner, StepState, best_position


@dataclass(frozen=True)
class Threshold(Planner):
    """Options:
    tau: commit every position whose confidence is >= tau (plus the most confident one).
    """

    tau: float = 0.9

    name = "threshold"
    summary = "Fast-dLLM confidence threshold: commit all positions with p >= tau, at least one"
    source = "Wu et al. 2025, Fast-dLLM llada/generate.py (threshold=tau)"

    def __post_init__(self):
        checks.finite("threshold: tau", self.tau, at_least=0, at_most=1, example=0.9, note="a probability")

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return state.confidence

    def select(self, state: StepState) -> torch.Tensor:
        conf = state.confidence
        return state.eligible & (conf >= self.tau) | best_position(conf, state.eligible)
