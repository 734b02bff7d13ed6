"""Filtering, proposals and scores, on hand-built logits."""

from __future__ import annotations

import math

import torch

from unmask import scoring


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[[1.0, 4.0, 3.0, 2.0]]])
    kept = scoring.filter_logits(logits, top_k=2)
    assert torch.isinf(kept[0, 0, [0, 3]]).all() and torch.equal(kept[0, 0, [1, 2]], logits[0, 0, [1, 2]])


def test_top_p_keeps_the_token_that_crosses_p():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().view(1, 1, 4)
    kept = scoring.filter_logits(logits, top_p=0.6)  # 0.5 < 0.6, 0.5 + 0.3 crosses: keep the first two
    assert torch.isfinite(kept[0, 0, :2]).all() and torch.isinf(kept[0, 0, 2:]).all()
    assert torch.isfinite(scoring.filter_logits(logits, top_p=0.4)[0, 0, 0])  # the top token always stays


def test_greedy_proposal_is_argmax_and_sampling_follows_the_generators():
    logits = torch.randn(2, 5, 7)
    assert torch.equal(scoring.propose(logits, 0.0, None), logits.argmax(-1))
    gens = lambda: [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]  # noqa: E731
    a, b = scoring.propose(logits, 1.0, gens()), scoring.propose(logits, 1.0, gens())
    assert torch.equal(a, b)
    # row 1 does not depend on row 0's stream
    alone = scoring.propose(logits[1:], 1.0, [torch.Generator().manual_seed(2)])
    assert torch.equal(a[1:], alone)


def test_gumbel_sampling_matches_the_softmax_distribution():
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1])).view(1, 1, 3).expand(1, 4000, 3)
    draws = scoring.propose(logits, 1.0, [torch.Generator().manual_seed(0)])
    frequency = torch.bincount(draws.flatten(), minlength=3).double() / draws.numel()
    assert torch.allclose(frequency, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), atol=0.03)


def test_scores():
    probs = torch.tensor([[[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3]]], dtype=torch.float64)
    assert torch.allclose(scoring.margin(probs), torch.tensor([[0.5, 0.0]], dtype=torch.float64))
    assert abs(scoring.entropy_bits(probs)[0, 1].item() - math.log2(3)) < 1e-6
    assert scoring.neg_entropy(probs)[0, 0] > scoring.neg_entropy(probs)[0, 1]
    assert torch.allclose(scoring.confidence(probs, torch.tensor([[0, 2]])),
                          torch.tensor([[0.7, 1 / 3]], dtype=torch.float64))
