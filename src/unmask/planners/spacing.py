"""Dilated-spacing post-filter for adaptive planners (DUS paper, section 4.4).

Candidates are visited best first; one is accepted only when it lies at least `max(2, floor(M * g0 / B))` positions
from every candidate already accepted, where M is the number of masked positions left in the block, B the block
length and g0 the `start_stride`. The best candidate is always accepted; rejected ones stay masked. The gap shrinks
as the block fills, so early calls commit spread-out tokens and late calls may commit neighbours.
"""

from __future__ import annotations

import torch


def space_out(candidates: torch.Tensor, priority: torch.Tensor, masked_left: torch.Tensor, block_len: torch.Tensor,
              start_stride: float) -> torch.Tensor:
    """Keep the candidates that survive the spacing rule.

    Args:
        candidates: BoolTensor (A, K), positions the planner would commit.
        priority: FloatTensor (A, K), higher is visited first.
        masked_left: LongTensor (A,), masked positions left in each row's block (M).
        block_len: LongTensor (A,), each row's block length (B).
        start_stride: g0 > 0.
    Returns:
        BoolTensor (A, K), a subset of `candidates`.
    """
    rows, width = candidates.shape
    block_len = block_len.to(candidates.device)
    gap = torch.clamp(torch.floor(masked_left * start_stride / block_len), min=2)  # (A,)
    order = torch.sort(priority.masked_fill(~candidates, -torch.inf), dim=-1, descending=True, stable=True).indices
    positions = torch.arange(width, device=candidates.device)
    accepted = torch.zeros_like(candidates)
    for rank in range(width):  # greedy and sequential by nature; vectorised over rows, at most K small steps
        pos = order[:, rank]  # (A,)
        is_candidate = candidates.gather(1, pos[:, None]).squeeze(1)
        if not is_candidate.any():
            break
        distance = (positions[None, :] - pos[:, None]).abs()  # (A, K)
        clear = ~(accepted & (distance < gap[:, None])).any(-1)  # (A,)
        take = is_candidate & clear
        accepted[take, pos[take]] = True
    return accepted
