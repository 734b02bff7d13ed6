"""From logits to a proposal and its scores: filtering, sampling and the confidence measures planners rank by.

The pipeline, in order: `filter_logits` (top-k, then top-p) -> `propose` (argmax, or Gumbel-max in float64 as in
LLaDA's `add_gumbel_noise`) -> scores of the proposal (`confidence`, `margin`, `neg_entropy`, `entropy_bits`).
Probabilities are computed in float64, as Fast-dLLM and the DUS code do, so that near-ties rank stably.
"""

from __future__ import annotations

import math

import torch


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set tokens outside the top-k / nucleus to -inf.

    Args:
        logits: FloatTensor (..., V).
    Returns:
        FloatTensor (..., V), same dtype.
    """
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        remove = cumulative > top_p
        remove[..., 1:] = remove[..., :-1].clone()  # keep the token that crosses top_p
        remove[..., 0] = False
        logits = logits.masked_fill(remove.scatter(-1, order, remove), -math.inf)
    return logits


def gumbel_noise(shape: torch.Size, generators: list[torch.Generator], device) -> torch.Tensor:
    """Standard Gumbel noise in float64, row i drawn from `generators[i]` (rows never share a stream).

    Returns:
        DoubleTensor `shape`, whose first dimension equals len(generators).
    """
    uniform = torch.stack([torch.rand(shape[1:], generator=g, dtype=torch.float64) for g in generators])
    return -torch.log(-torch.log(uniform.clamp_min(1e-300))).to(device)


def propose(logits: torch.Tensor, temperature: float, generators: list[torch.Generator] | None) -> torch.Tensor:
    """Proposed token per position: argmax when greedy, else argmax(logits / T + Gumbel) in float64.

    Args:
        logits: FloatTensor (A, K, V), already filtered.
        generators: one per row; required when temperature > 0.
    Returns:
        LongTensor (A, K).
    """
    if temperature == 0:
        return logits.argmax(-1)
    noisy = logits.double() / temperature + gumbel_noise(logits.shape, generators, logits.device)
    return noisy.argmax(-1)


def propose_unmasked(logits: torch.Tensor, mask_id: int, temperature: float,
                     generators: list[torch.Generator] | None) -> torch.Tensor:
    """`propose` that never proposes `mask_id`. Scores keep the model's full distribution (as the references do);
    only the proposal excludes [MASK]. (A, K, V) -> LongTensor (A, K)."""
    proposable = logits.clone()
    proposable[..., mask_id] = -torch.inf
    return propose(proposable, temperature, generators)


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax in float64. (A, K, V) -> (A, K, V)."""
    return torch.softmax(logits.double(), dim=-1)


def confidence(probs: torch.Tensor, proposal: torch.Tensor) -> torch.Tensor:
    """Probability of the proposed token (LLaDA `low_confidence`). (A, K, V), (A, K) -> (A, K)."""
    return probs.gather(-1, proposal.unsqueeze(-1)).squeeze(-1)


def margin(probs: torch.Tensor) -> torch.Tensor:
    """Top-1 minus top-2 probability (Dream `topk_margin`). (A, K, V) -> (A, K)."""
    top2 = torch.topk(probs, 2, dim=-1).values
    return top2[..., 0] - top2[..., 1]


def neg_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Negative entropy in nats, sum p ln(p + 1e-10) (Dream `entropy`: larger is more certain). (A, K, V) -> (A, K)."""
    return (probs * torch.log(probs + 1e-10)).sum(-1)


def entropy_bits(probs: torch.Tensor) -> torch.Tensor:
    """Entropy in bits, -sum p log2(p + 1e-10) (EB-sampler). (A, K, V) -> (A, K)."""
    return -(probs * torch.log2(probs + 1e-10)).sum(-1)
