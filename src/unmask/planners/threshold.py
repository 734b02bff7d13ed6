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
from unmask.planners.spacing import space_out


@dataclass(frozen=True)
class Threshold(Planner):
    """Options:
    tau: commit every position whose confidence is >= tau (plus the most confident one).
    start_stride: dilated-spacing filter g0 (DUS section 4.4); 0 turns it off.
    """

    tau: float = 0.9
    start_stride: float = 0

    name = "threshold"
    summary = "Fast-dLLM confidence threshold: commit all positions with p >= tau, at least one"
    source = "Wu et al. 2025, Fast-dLLM llada/generate.py (threshold=tau)"

    def __post_init__(self):
        checks.finite("threshold: tau", self.tau, at_least=0, at_most=1, example=0.9, note="a probability")
        checks.finite("threshold: start_stride", self.start_stride, at_least=0, example=2, note="0 is off")

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return state.confidence

    def select(self, state: StepState) -> torch.Tensor:
        conf = state.confidence
        candidates = state.eligible & (conf >= self.tau) | best_position(conf, state.eligible)
        if self.start_stride:
            candidates = space_out(candidates, conf, state.masked_left, state.block_len, self.start_stride)
        return candidates
