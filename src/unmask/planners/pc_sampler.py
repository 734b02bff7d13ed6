"""PC-Sampler: position-aware calibration of the confidence planner (Huang et al. 2025, "PC-Sampler:
Position-Aware Calibration of Decoding Bias in Masked Diffusion Models", arXiv 2508.13021; code NEUIR/PC-Sampler
`src/generate.py`, `generate_with_pc_sampler`).

Confidence planners favour trivial tokens (punctuation, end-of-text) and reveal the end of a block early. PC-Sampler
ranks each masked position of the block by

    score(j) = exp(-lambd * j) * min(-p_j * ln(f(x_j) + 1e-9), alpha)

where j is the position's index inside the block, x_j the proposed token, p_j its probability, and f a background
frequency of tokens (counted on a corpus): a common token's confidence is discounted, and an early position
preferred. The number of tokens per call follows the confidence family's budget (`steps`, LLaDA's even split).

Choices where the official code is specific to LLaDA: the background table has the model's vocabulary size (the
official one is fixed at 126464 entries), and without a `baseline` file every token has the same frequency (the
calibration then only rescales confidence; the positional decay remains). Tokens absent from the file get
frequency 1 / num_token, as in the official `load_baseline`. Probabilities are float64 here (float32 there).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from unmask import checks
from unmask.planners.base import StepState
from unmask.planners.confidence import _BudgetPlanner


@dataclass(frozen=True)
class PCSampler(_BudgetPlanner):
    """Options:
    steps, match, schedule: the budget, as for `confidence`.
    lambd: positional decay per block position (the official scripts use 0.25).
    alpha: clip of the calibrated confidence (the official scripts use 10).
    baseline: path of a token-frequency JSON, {"num_token": N, "p_baseline_dict": {"id": count, ...}} (the official
        `P_baseline.json` format; `baseline_counts` writes one); None: uniform frequencies.
    """

    lambd: float = 0.25
    alpha: float = 10.0
    baseline: str | None = None

    name = "pc_sampler"
    summary = "PC-Sampler: confidence calibrated by token frequency, decayed with block position"
    source = "Huang et al. 2025, NEUIR/PC-Sampler src/generate.py (generate_with_pc_sampler)"

    def __post_init__(self):
        super().__post_init__()
        checks.finite("pc_sampler: lambd", self.lambd, at_least=0, example=0.25, note="0 turns the decay off")
        checks.finite("pc_sampler: alpha", self.alpha, above=0, example=10.0)
        if self.baseline is not None:
            _read_baseline(self.baseline)  # a missing or malformed file fails here, before any model call

    def fallback_scores(self, state: StepState) -> torch.Tensor:
        return self.scores(state)

    def scores(self, state: StepState) -> torch.Tensor:
        vocab = state.logits.shape[-1]
        frequency = _frequencies(self.baseline, vocab).to(state.proposal.device)[state.proposal]  # (A, K)
        calibrated = (-state.confidence * torch.log(frequency + 1e-9)).clamp(max=self.alpha)  # (A, K)
        position = torch.arange(state.eligible.shape[1], device=calibrated.device, dtype=calibrated.dtype)
        return torch.exp(-self.lambd * position) * calibrated


@lru_cache(maxsize=8)
def _read_baseline(baseline: str) -> tuple[int, dict[int, int]]:
    """(num_token, {token id: count}) of a baseline file, or a ValueError naming the file and the expected format."""
    if not Path(baseline).is_file():
        raise ValueError(f"pc_sampler: baseline {baseline!r} is not a file: give the path of a token-frequency JSON "
                         f"(see unmask.planners.pc_sampler.baseline_counts) or None for uniform frequencies")
    try:
        data = json.loads(Path(baseline).read_text(encoding="utf-8"))
        total = data["num_token"]
        counts = {int(token): count for token, count in data["p_baseline_dict"].items()}
        if not (isinstance(total, int) and total > 0 and all(isinstance(c, int) and c >= 0 for c in counts.values())):
            raise ValueError("num_token must be a positive integer and counts non-negative integers")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"pc_sampler: baseline {baseline} is not a token-frequency JSON "
                         f"{{'num_token': N, 'p_baseline_dict': {{id: count}}}} ({type(err).__name__}: {err})") from None
    return total, counts


@lru_cache(maxsize=8)
def _frequencies(baseline: str | None, vocab: int) -> torch.Tensor:
    """Background frequency of every token id, float64 (vocab,)."""
    if baseline is None:
        return torch.full((vocab,), 1.0 / vocab, dtype=torch.float64)
    total, counts = _read_baseline(baseline)
    frequency = torch.full((vocab,), 1.0 / total, dtype=torch.float64)
    inside = {t: c for t, c in counts.items() if 0 <= t < vocab}
    frequency[torch.tensor(list(inside), dtype=torch.long)] = torch.tensor(list(inside.values()), dtype=torch.float64) / total
    return frequency


def baseline_counts(token_ids: list[list[int]]) -> dict:
    """A baseline in the official format from tokenised corpus texts: {"num_token": N, "p_baseline_dict": counts}."""
    counts = Counter(token for ids in token_ids for token in ids)
    return {"num_token": sum(counts.values()), "p_baseline_dict": {str(t): c for t, c in sorted(counts.items())}}
