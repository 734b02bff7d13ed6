"""Planner unit tests on hand-built logits: a `StepState` made by hand, no model.

Each test states the expected selection as literal positions worked out from the rule the planner follows
(LLaDA even split, Fast-dLLM threshold, EB-sampler bound, DUS groups, the DUS spacing filter, deferral).
"""

from __future__ import annotations

import math

import pytest
import torch

import unmask
from unmask.planners import binary_groups, dilated_groups, get_planner
from unmask.planners.base import split_evenly
from unmask.planners.spacing import space_out

torch.set_num_threads(1)

V = 8  # vocabulary of the hand-built distributions


def spread(top: float, token: int = 0) -> list[float]:
    """A distribution over V tokens whose most likely token is `token`, with probability `top` (> 1/V)."""
    rest = (1.0 - top) / (V - 1)
    return [top if t == token else rest for t in range(V)]


def uniform(n: int, token: int = 0) -> list[float]:
    """Uniform over n tokens starting at `token` (entropy log2(n) bits); the proposal is `token`."""
    return [1.0 / n if token <= t < token + n else 0.0 for t in range(V)]


def make_state(probs, eligible=None, step=0, block_len=None, block_index=0, num_blocks=1) -> unmask.StepState:
    """StepState from per-position distributions: probs is (K, V) for one row or (A, K, V)."""
    probs = torch.tensor(probs, dtype=torch.float64)
    if probs.dim() == 2:
        probs = probs[None]
    A, K, _ = probs.shape
    eligible = torch.ones(A, K, dtype=torch.bool) if eligible is None else torch.tensor(eligible, dtype=torch.bool)
    if eligible.dim() == 1:
        eligible = eligible[None]
    as_tensor = lambda v: torch.as_tensor(v if isinstance(v, (list, tuple)) else [v] * A, dtype=torch.long)
    return unmask.StepState(step=as_tensor(step), block_index=as_tensor(block_index),
                            block_len=as_tensor(K if block_len is None else block_len), eligible=eligible,
                            logits=probs.log(), proposal=probs.argmax(-1), num_blocks=num_blocks)


def chosen(mask: torch.Tensor) -> list[list[int]]:
    """Selected positions of each row."""
    return [row.nonzero().squeeze(-1).tolist() for row in mask]


def test_state_confidence_is_the_proposal_probability():
    state = make_state([spread(0.9, 3), spread(0.4, 5), uniform(4, 2)])
    assert state.proposal.tolist() == [[3, 5, 2]]
    assert torch.allclose(state.confidence, torch.tensor([[0.9, 0.4, 0.25]], dtype=torch.float64))
    assert state.confidence.dtype == torch.float64


# --------------------------------------------------------------------------------------------------------------
# threshold (Fast-dLLM): every eligible position with conf >= tau, plus the most confident eligible one
# --------------------------------------------------------------------------------------------------------------

THRESHOLD_CONFS = [0.95, 0.5, 0.91, 0.3, 0.99, 0.6, 0.89, 0.92]
THRESHOLD_ELIGIBLE = [1, 1, 1, 1, 0, 1, 1, 1]  # position 4 (the most confident) is already revealed


@pytest.mark.parametrize("tau,expected", [
    (0.9, [0, 2, 7]),              # 0.89 < 0.9 stays; the revealed 0.99 is never re-selected
    (0.55, [0, 2, 5, 6, 7]),
    (0.0, [0, 1, 2, 3, 5, 6, 7]),  # everything eligible
    (0.96, [0]),                   # nothing reaches tau: the single most confident eligible position
    (1.0, [0]),
])
def test_threshold_commits_confident_positions_plus_the_best(tau, expected):
    state = make_state([spread(c, i % V) for i, c in enumerate(THRESHOLD_CONFS)], eligible=THRESHOLD_ELIGIBLE)
    assert chosen(get_planner("threshold", tau=tau).select(state)) == [expected]


def test_threshold_keeps_confidence_equal_to_tau():
    """Fast-dLLM drops only ranks with conf < tau: a confidence exactly at tau is committed."""
    state = make_state([spread(c, i % V) for i, c in enumerate(THRESHOLD_CONFS)], eligible=THRESHOLD_ELIGIBLE)
    at = float(state.confidence[0, 5])  # ~0.6
    assert chosen(get_planner("threshold", tau=at).select(state)) == [[0, 2, 5, 6, 7]]
    just_above = math.nextafter(at, 1.0)
    assert chosen(get_planner("threshold", tau=just_above).select(state)) == [[0, 2, 6, 7]]


def test_threshold_rows_are_independent():
    rows = [[spread(c) for c in (0.3, 0.8, 0.5, 0.7)], [spread(c) for c in (0.95, 0.2, 0.97, 0.4)]]
    state = make_state(rows, eligible=[[1, 1, 1, 1], [0, 1, 1, 1]])
    assert chosen(get_planner("threshold", tau=0.75).select(state)) == [[1], [2]]
    assert chosen(get_planner("threshold", tau=0.85).select(state)) == [[1], [2]]  # row 0: best only
    assert chosen(get_planner("threshold", tau=0.35).select(state)) == [[1, 2, 3], [2, 3]]


# --------------------------------------------------------------------------------------------------------------
# entropy_bound (EB-sampler): ascending entropy (bits), largest prefix with cumsum - cummax <= gamma, at least one
# --------------------------------------------------------------------------------------------------------------

# entropies in bits: log2 of 6, 2, 8, 3, 4, 5 = 2.585, 1, 3, 1.585, 2, 2.322
EB_PROBS = [uniform(6), uniform(2, 3), uniform(8), uniform(3, 1), uniform(4, 4), uniform(5, 2)]
# ascending: pos 1 (1.0), 3 (1.585), 4 (2.0), 5 (2.322), 0 (2.585), 2 (3.0)
# entropy of the lower-ranked ones (cumsum - cummax): 0, 1.0, 2.585, 4.585, 6.907, 9.492


def test_entropy_bits_of_hand_built_distributions():
    from unmask import scoring

    bits = scoring.entropy_bits(make_state(EB_PROBS).probs)[0]
    assert torch.allclose(bits, torch.tensor([math.log2(n) for n in (6, 2, 8, 3, 4, 5)], dtype=torch.float64),
                          atol=1e-8)


@pytest.mark.parametrize("gamma,expected", [
    (0.0, [1]),                  # always at least the lowest-entropy position
    (0.99, [1]),
    (1.01, [1, 3]),
    (2.58, [1, 3]),
    (2.6, [1, 3, 4]),
    (4.6, [1, 3, 4, 5]),
    (6.95, [0, 1, 3, 4, 5]),
    (100.0, [0, 1, 2, 3, 4, 5]),
])
def test_entropy_bound_commits_the_bounded_prefix(gamma, expected):
    state = make_state(EB_PROBS)
    assert chosen(get_planner("entropy_bound", gamma=gamma).select(state)) == [expected]


def test_entropy_bound_only_looks_at_eligible_positions():
    # position 1 (lowest entropy) revealed: ascending eligible 3 (1.585), 4 (2.0), 5, 0, 2
    state = make_state(EB_PROBS, eligible=[1, 0, 1, 1, 1, 1])
    assert chosen(get_planner("entropy_bound", gamma=0.0).select(state)) == [[3]]
    assert chosen(get_planner("entropy_bound", gamma=1.6).select(state)) == [[3, 4]]
    assert chosen(get_planner("entropy_bound", gamma=3.5).select(state)) == [[3, 4]]
    assert chosen(get_planner("entropy_bound", gamma=3.6).select(state)) == [[3, 4, 5]]
    assert chosen(get_planner("entropy_bound", gamma=100.0).select(state)) == [[0, 2, 3, 4, 5]]


def test_entropy_bound_rows_are_independent():
    rows = [EB_PROBS, [uniform(2), uniform(2), uniform(8), uniform(8), uniform(8), uniform(8)]]
    state = make_state(rows, eligible=[[1] * 6, [0, 1, 1, 1, 1, 1]])
    # row 1: ascending 1 (1 bit), then the 3-bit ones 2, 3, 4, 5 (ties go to the lower position)
    assert chosen(get_planner("entropy_bound", gamma=1.01).select(state)) == [[1, 3], [1, 2]]
    assert chosen(get_planner("entropy_bound", gamma=4.5).select(state)) == [[1, 3, 4], [1, 2, 3]]


# --------------------------------------------------------------------------------------------------------------
# confidence (LLaDA low_confidence): top-k by confidence, k per call from LLaDA's even split
# --------------------------------------------------------------------------------------------------------------

def test_llada_even_split():
    assert split_evenly(8, 3) == [3, 3, 2]
    assert split_evenly(16, 6) == [3, 3, 3, 3, 2, 2]
    assert split_evenly(32, 64) == [1] * 32 + [0] * 32  # the notes' example: 32 ones then 32 zeros
    assert split_evenly(8, 1) == [8]


@pytest.mark.parametrize("steps,num_blocks,block_index,per_call,calls", [
    (3, 1, 0, [3, 3, 2], 3),             # block 8, 3 steps
    (6, 2, 1, [3, 3, 2], 3),             # 6 steps over 2 blocks: 3 per block
    (16, 2, 0, [1] * 8, 8),
    (24, 2, 0, [1] * 8, 8),              # more steps than positions: one token per call (decode rejects it)
    (7, 2, 0, [2, 2, 2, 2], 4),          # uneven budget (unmask extension): the first block gets the extra step
    (7, 2, 1, [3, 3, 2], 3),
])
def test_confidence_budget_per_block(steps, num_blocks, block_index, per_call, calls):
    planner = get_planner("confidence", steps=steps)
    assert planner.per_call(8, block_index, num_blocks) == per_call
    assert planner.steps_for(8, block_index, num_blocks) == calls


def test_confidence_reveals_3_3_2_most_confident():
    confs = [0.5, 0.9, 0.3, 0.7, 0.95, 0.4, 0.8, 0.6]  # ranking: 4, 1, 6, 3, 7, 0, 5, 2
    probs = [spread(c, i % V) for i, c in enumerate(confs)]
    planner = get_planner("confidence", steps=3)
    eligible = [1] * 8
    picks = []
    for step in range(3):
        selected = planner.select(make_state(probs, eligible=eligible, step=step))
        picks.append(chosen(selected)[0])
        eligible = [e and not s for e, s in zip(eligible, selected[0].tolist())]
    assert picks == [[1, 4, 6], [0, 3, 7], [2, 5]]


def test_confidence_k_is_per_row():
    """Rows at different steps of their block reveal different counts."""
    probs = [[spread(c) for c in (0.5, 0.9, 0.3, 0.7, 0.95, 0.4, 0.8, 0.6)]] * 2
    state = make_state(probs, eligible=[[1] * 8, [1, 0, 1, 1, 0, 1, 0, 1]], step=[0, 2])
    assert chosen(get_planner("confidence", steps=3).select(state)) == [[1, 4, 6], [3, 7]]


def test_confidence_rejects_fewer_steps_than_blocks():
    with pytest.raises(ValueError, match="steps"):
        get_planner("confidence", steps=2).check(4, [8, 8, 8, 8])


# --------------------------------------------------------------------------------------------------------------
# dilated / binary groups (DUS)
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("length,skip,groups", [
    (4, 1, [[0, 2], [1, 3]]),
    (8, 1, [[0, 4], [2, 6], [1, 3, 5, 7]]),
    (16, 1, [[0, 8], [4, 12], [2, 6, 10, 14], list(range(1, 16, 2))]),
    (32, 1, [[0, 16], [8, 24], [4, 12, 20, 28], list(range(2, 32, 4)), list(range(1, 32, 2))]),
    (12, 1, [[0, 6], [3, 9], [1, 2, 4, 5, 7, 8, 10, 11]]),  # stride 6 -> 3 -> 1
    (10, 1, [[0, 5], [2, 4, 6, 8], [1, 3, 7, 9]]),
    (6, 1, [[0, 3], [1, 2, 4, 5]]),
    (7, 1, [[0, 3, 6], [1, 2, 4, 5]]),
    (2, 1, [[0, 1]]),
    (3, 1, [[0, 1, 2]]),
    (5, 1, [[0, 1, 2, 3, 4]]),                  # [0,2,4] [1,3] merged
    (8, 2, [[0, 2, 4, 6], [1, 3, 5, 7]]),
    (16, 2, [[0, 4, 8, 12], [2, 6, 10, 14], list(range(1, 16, 2))]),
    (4, 2, [[0, 1, 2, 3]]),
    (9, 2, [list(range(9))]),
    (11, 2, [list(range(11))]),
    (16, 3, [list(range(0, 16, 2)), list(range(1, 16, 2))]),
    (8, 3, [list(range(8))]),
])
def test_dilated_groups(length, skip, groups):
    assert [list(g) for g in dilated_groups(length, 2, skip)] == groups


@pytest.mark.parametrize("length,skip,sizes", [
    (32, 1, [2, 2, 4, 8, 16]),
    (64, 1, [2, 2, 4, 8, 16, 32]),
    (24, 1, [2, 2, 4, 16]),
    (32, 2, [4, 4, 8, 16]),
    # strides 23, 11, 5, 2, 1: the odd leftovers (15) are fewer than the level before (16) and merge into it
    (46, 1, [2, 4, 9, 31]),
    (47, 1, [3, 4, 9, 31]),
])
def test_dilated_group_sizes(length, skip, sizes):
    groups = dilated_groups(length, 2, skip)
    assert [len(g) for g in groups] == sizes
    assert sorted(o for g in groups for o in g) == list(range(length))  # a partition of the block


def test_binary_groups():
    # midpoints level by level: 3 | 1, 5 | 0, 2, 4, 6 | 7, and the lone 7 merges into the level before it
    assert [list(g) for g in binary_groups(8)] == [[3], [1, 5], [0, 2, 4, 6, 7]]
    assert [list(g) for g in binary_groups(7)] == [[3], [1, 5], [0, 2, 4, 6]]
    assert [list(g) for g in binary_groups(15)] == [[7], [3, 11], [1, 5, 9, 13], list(range(0, 15, 2))]
    assert [list(g) for g in binary_groups(1)] == [[0]]


def test_dilated_select_follows_the_groups_and_catches_up_on_leftovers():
    probs = [spread(0.5)] * 8
    planner = get_planner("dilated")
    assert planner.steps_for(8, 0, 1) == 3
    assert chosen(planner.select(make_state(probs, step=0))) == [[0, 4]]
    assert chosen(planner.select(make_state(probs, eligible=[0, 1, 1, 1, 0, 1, 1, 1], step=1))) == [[2, 6]]
    # a position of an earlier group that is still masked is due too
    assert chosen(planner.select(make_state(probs, eligible=[1, 1, 1, 1, 0, 1, 1, 1], step=1))) == [[0, 2, 6]]
    assert chosen(planner.select(make_state(probs, eligible=[0, 1, 0, 1, 0, 1, 0, 1], step=2))) == [[1, 3, 5, 7]]


def test_dilated_select_rows_with_different_block_lengths():
    """A short last block (4 of K=8) uses its own groups [0,2] [1,3]."""
    probs = [[spread(0.5)] * 8] * 2
    state = make_state(probs, eligible=[[1] * 8, [1, 1, 1, 1, 0, 0, 0, 0]], step=[0, 0], block_len=[8, 4])
    assert chosen(get_planner("dilated").select(state)) == [[0, 4], [0, 2]]
    state = make_state(probs, eligible=[[0, 1, 1, 1, 0, 1, 1, 1], [0, 1, 0, 1, 0, 0, 0, 0]], step=[1, 1],
                       block_len=[8, 4])
    assert chosen(get_planner("dilated").select(state)) == [[2, 6], [1, 3]]


def test_binary_select():
    probs = [spread(0.5)] * 8
    planner = get_planner("binary")
    assert planner.steps_for(8, 0, 1) == 3
    assert chosen(planner.select(make_state(probs, step=0))) == [[3]]
    assert chosen(planner.select(make_state(probs, eligible=[1, 1, 1, 0, 1, 1, 1, 1], step=1))) == [[1, 5]]
    assert chosen(planner.select(make_state(probs, eligible=[1, 0, 1, 0, 1, 0, 1, 1], step=2))) == [[0, 2, 4, 6, 7]]


def test_dilated_defer_below_keeps_unsure_positions_masked_until_the_last_group():
    confs = [0.9, 0.4, 0.8, 0.9, 0.3, 0.95, 0.2, 0.35]
    probs = [spread(c, i % V) for i, c in enumerate(confs)]
    planner = get_planner("dilated", defer_below=0.5)
    # group {0, 4}: 4 is unsure and stays masked
    assert chosen(planner.select(make_state(probs, step=0))) == [[0]]
    # groups {0, 4} + {2, 6} are due: 2 is sure, 4 and 6 are not
    assert chosen(planner.select(make_state(probs, eligible=[0, 1, 1, 1, 1, 1, 1, 1], step=1))) == [[2]]
    # the last group commits everything left, sure or not
    assert chosen(planner.select(make_state(probs, eligible=[0, 1, 0, 1, 1, 1, 1, 1], step=2))) == [[1, 3, 4, 5, 6, 7]]
    # without deferral the same calls commit the whole group
    assert chosen(get_planner("dilated").select(make_state(probs, step=0))) == [[0, 4]]


def test_dilated_defer_below_per_row_last_step():
    probs = [[spread(0.3)] * 8] * 2  # nothing is sure
    state = make_state(probs, eligible=[[0, 1, 1, 1, 0, 1, 1, 1]] * 2, step=[1, 2])
    assert chosen(get_planner("dilated", defer_below=0.5).select(state)) == [[], [1, 2, 3, 5, 6, 7]]


# --------------------------------------------------------------------------------------------------------------
# spacing filter (DUS section 4.4): greedy, best first, reject within max(2, floor(M * g0 / B)) of an accepted one
# --------------------------------------------------------------------------------------------------------------

CANDIDATES = [0, 2, 5, 9, 10]
PRIORITY = {5: 0.9, 9: 0.8, 2: 0.7, 10: 0.6, 0: 0.5}


def _space(masked_left: int, start_stride: float, block_len: int = 16) -> list[int]:
    candidates = torch.zeros(1, block_len, dtype=torch.bool)
    candidates[0, CANDIDATES] = True
    priority = torch.zeros(1, block_len, dtype=torch.float64)
    for pos, p in PRIORITY.items():
        priority[0, pos] = p
    kept = space_out(candidates, priority, torch.tensor([masked_left]), torch.tensor([block_len]), start_stride)
    return chosen(kept)[0]


@pytest.mark.parametrize("masked_left,start_stride,expected", [
    (16, 4, [0, 5, 9]),       # gap 4: 5, 9 (|9-5| = 4 is allowed), 2 (3 from 5) no, 10 (1 from 9) no, 0 yes
    (16, 5, [0, 5, 10]),      # gap 5: 9 (4 from 5) no, 2 no, 10 (5 from 5) yes, 0 yes
    (12, 4, [2, 5, 9]),       # gap floor(12*4/16) = 3: 2 (3 from 5) yes, 10 no, 0 (2 from 2) no
    (6, 4, [0, 2, 5, 9]),     # gap max(2, floor(1.5)) = 2: 0 (2 from 2) yes
    (16, 0.1, [0, 2, 5, 9]),  # gap clamps up to 2
    (16, 16, [5]),            # gap 16: only the best
])
def test_spacing_filter(masked_left, start_stride, expected):
    assert _space(masked_left, start_stride) == expected


def test_threshold_with_spacing_filter():
    confs = [0.95, 0.93, 0.2, 0.91, 0.97, 0.3, 0.92, 0.2]
    state = make_state([spread(c, i % V) for i, c in enumerate(confs)])
    # candidates (>= 0.9) by confidence: 4, 0, 1, 6, 3. M = 8, B = 8, g0 = 3: gap 3 -> 4, 0 (4 away), 1 (1 from 0) no,
    # 6 (2 from 4) no, 3 (1 from 4) no
    assert chosen(get_planner("threshold", tau=0.9, start_stride=3).select(state)) == [[0, 4]]
    # g0 = 0 switches the filter off
    assert chosen(get_planner("threshold", tau=0.9).select(state)) == [[0, 1, 3, 4, 6]]


def test_entropy_bound_with_spacing_filter():
    # gamma 100 makes every position a candidate; ascending entropy: 1, 3, 4, 5, 0, 2. M = 6, B = 6, g0 = 2: gap 2
    state = make_state(EB_PROBS)
    assert chosen(get_planner("entropy_bound", gamma=100.0, start_stride=2).select(state)) == [[1, 3, 5]]


def test_spacing_wraps_any_planner_by_name():
    # confidence with 2 calls per block of 8 takes the top 4: 4 (0.97), 0 (0.95), 1 (0.93), 6 (0.92); gap
    # max(2, floor(8 * 2 / 8)) = 2 keeps 4, 0 (4 away), drops 1 (1 from 0), keeps 6 (2 from 4)
    confs = [0.95, 0.93, 0.2, 0.91, 0.97, 0.3, 0.92, 0.2]
    state = make_state([spread(c, i % V) for i, c in enumerate(confs)])
    assert chosen(get_planner("confidence", steps=2).select(state)) == [[0, 1, 4, 6]]
    spaced = get_planner("confidence", steps=2, start_stride=2)
    assert isinstance(spaced, unmask.planners.Spaced) and spaced.name == "confidence"
    assert chosen(spaced.select(state)) == [[0, 4, 6]]
    assert spaced.steps_for(8, 0, 1) == 2  # the inner schedule is kept


def test_spacing_visits_a_budget_planner_in_its_own_order():
    # margin ranks by top-1 minus top-2: positions 2 and 3 have the largest margins although 0 and 1 are more
    # confident; with one pick per gap the filter must keep the planner's best (3), not the most confident
    probs = [[0.5, 0.45] + [0.05 / 6] * 6, [0.5, 0.45] + [0.05 / 6] * 6, spread(0.4), spread(0.45)]
    state = make_state(probs)
    assert chosen(get_planner("margin", steps=1).select(state)) == [[0, 1, 2, 3]]
    assert chosen(get_planner("margin", steps=1, start_stride=16).select(state)) == [[3]]


def test_spacing_zero_is_the_planner_itself_and_options_are_checked():
    assert get_planner("threshold", tau=0.8, start_stride=0) == get_planner("threshold", tau=0.8)
    assert get_planner("dilated", start_stride=2) == unmask.planners.Spaced(get_planner("dilated"), 2)
    with pytest.raises(ValueError, match="dilated: start_stride must be > 0"):
        unmask.planners.Spaced(get_planner("dilated"), -1)
    with pytest.raises(ValueError, match="its options are base, skip, defer_below, start_stride"):
        get_planner("dilated", stride=2)
    with pytest.raises(ValueError, match="Spaced wraps a planner"):
        unmask.planners.Spaced("threshold", 2)
