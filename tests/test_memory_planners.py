"""Planners with memory across calls (KLASS, Credit) on hand-built logits, and the loops' handling of a planner's
per-row memory: made by the planner, kept for the row, fresh on each new block when the planner says so."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest
import torch

import unmask
from unmask.config import DecodeConfig
from unmask.engine import Engine
from unmask.planners import get_planner
from unmask.planners.threshold import Threshold
from unmask.step import decode_step, row_memories
from test_planners import chosen, make_state, spread

EPS = 1e-12


def kl(p: list[float], q: list[float]) -> float:
    """KLASS's KL(p || q) with eps inside both logarithms."""
    return sum(a * (math.log(a + EPS) - math.log(b + EPS)) for a, b in zip(p, q))


def call(planner, memory, probs, step, eligible=None):
    """One select on a hand-built state carrying the rows' memories."""
    return chosen(planner.select(replace(make_state(probs, eligible=eligible, step=step), memory=memory)))


# ---- KLASS ------------------------------------------------------------------------------------------------------

STEADY = [spread(0.96, 1), spread(0.95, 2), spread(0.5, 3), spread(0.97, 4), spread(0.93, 5), spread(0.92, 6)]


def test_klass_commits_stable_confident_positions_after_history_calls():
    klass = get_planner("klass", tau=0.9, kl_threshold=0.01, history=2)
    memory = row_memories(klass, 1)
    # call 0: no earlier call, nothing stable: the fallback takes the most confident (one token per call)
    assert call(klass, memory, STEADY, 0) == [[3]]
    # call 1: one KL of 0 and one unknown: still the fallback
    assert call(klass, memory, STEADY, 1, eligible=[1, 1, 1, 0, 1, 1]) == [[0]]
    # call 2: two KLs of 0: every masked position with p > 0.9 at once (2 is unsure)
    assert call(klass, memory, STEADY, 2, eligible=[0, 1, 1, 0, 1, 1]) == [[1, 4, 5]]
    assert memory[0].kl.shape == (6, 2) and float(memory[0].kl.abs().max()) < 1e-12


def test_klass_holds_back_a_confident_position_whose_distribution_moved():
    klass = get_planner("klass", tau=0.9, kl_threshold=0.01, history=2)
    memory = row_memories(klass, 1)
    moved = [spread(0.8, 2)] + STEADY[1:]  # position 0 at call 1 was less sure of another token
    call(klass, memory, STEADY, 0)
    call(klass, memory, moved, 1, eligible=[1, 1, 1, 0, 1, 1])
    assert call(klass, memory, STEADY, 2, eligible=[1, 1, 1, 0, 1, 1]) == [[1, 4, 5]]  # 0 is confident, not stable
    assert float(memory[0].kl[0, -1]) == pytest.approx(kl(STEADY[0], moved[0]), rel=1e-9)
    assert float(memory[0].kl[0, -2]) == pytest.approx(kl(moved[0], STEADY[0]), rel=1e-9)
    # with a looser KL threshold position 0 is ready too
    loose = get_planner("klass", tau=0.9, kl_threshold=10.0, history=2)
    memory = row_memories(loose, 1)
    for step, probs in enumerate([STEADY, moved]):
        call(loose, memory, probs, step, eligible=[1, 1, 1, 0, 1, 1])
    assert call(loose, memory, STEADY, 2, eligible=[1, 1, 1, 0, 1, 1]) == [[0, 1, 4, 5]]


def test_klass_rows_keep_their_own_memory():
    klass = get_planner("klass", history=1)
    memory = row_memories(klass, 2)
    call(klass, memory[:1], STEADY, 0)  # only row 0 has seen a call
    # history 1: row 0's one KL is 0 (ready set), row 1 has none (fallback: most confident)
    assert call(klass, memory, [STEADY, STEADY], 1) == [[0, 1, 3, 4, 5], [3]]


# ---- Credit -----------------------------------------------------------------------------------------------------


def test_credit_fuses_decayed_credit_into_the_logits():
    credit = get_planner("credit", alpha=0.7, gamma=0.2, beta=0.8)
    memory = row_memories(credit, 1)
    logits = torch.tensor([[spread(0.6, 1), spread(0.8, 2)]], dtype=torch.float32).log()  # (1, 2, V)
    eligible = torch.tensor([[True, False]])  # a decoded position earns no credit
    fused = credit.adjust_logits(logits, eligible, memory)
    first = 0.6 ** 0.2
    assert float(memory[0].credit[0, 1]) == pytest.approx(first, rel=1e-6)
    assert float(memory[0].credit.sum()) == pytest.approx(first, rel=1e-6)
    assert torch.allclose(fused[0, 0], logits[0, 0] + 0.7 * torch.log1p(memory[0].credit[0]))
    assert torch.equal(fused[0, 1], logits[0, 1])
    credit.adjust_logits(logits, eligible, memory)
    assert float(memory[0].credit[0, 1]) == pytest.approx(0.8 * first + first, rel=1e-6)


def test_credit_keeps_the_token_the_model_kept_predicting():
    credit = get_planner("credit", tau=0.95)
    memory = row_memories(credit, 1)
    before = torch.tensor([[[0.6, 0.3] + [0.1 / 6] * 6]]).log()  # token 0 three calls in a row
    for _ in range(3):
        credit.adjust_logits(before, torch.ones(1, 1, dtype=torch.bool), memory)
    now = torch.tensor([[[0.40, 0.41] + [0.19 / 6] * 6]]).log()  # token 1 just ahead now
    out = decode_step(credit, now, torch.full((1, 1), 7), torch.ones(1, 1, dtype=torch.bool),
                      step=torch.tensor([3]), block_index=torch.tensor([0]), block_len=torch.tensor([1]),
                      scheduled=torch.tensor([0]), num_blocks=1, mask_id=7, memory=memory)
    assert out.block.tolist() == [[0]]  # the fused proposal: credit 0.6**0.2 (0.8 + 0.64 + 0.512) outweighs 0.01


def test_credit_commits_above_tau_and_ties_with_the_best():
    credit = get_planner("credit", tau=0.9)
    assert chosen(credit.select(make_state([spread(0.95, 1), spread(0.92, 2), spread(0.5, 3)]))) == [[0, 1]]
    # nothing above tau: the best, and whatever lies within 1e-5 of it
    state = make_state([spread(0.5, 1), spread(0.5 + 5e-6, 2), spread(0.3, 3), spread(0.5 - 2e-5, 4)])
    assert chosen(credit.select(state)) == [[0, 1]]


# ---- the loops keep a planner's memory per row, fresh per block when asked ----------------------------------------

CREATED: list[list] = []


@dataclass(frozen=True)
class _Recorder(Threshold):
    """A threshold planner whose memory logs (block_index, step) of every call it takes part in."""

    def new_memory(self) -> list:
        CREATED.append([])
        return CREATED[-1]

    def select(self, state):
        for memory, block, step in zip(state.memory, state.block_index.tolist(), state.step.tolist()):
            memory.append((block, step))
        return super().select(state)


@dataclass(frozen=True)
class PerBlock(_Recorder):
    memory_per_block = True


@dataclass(frozen=True)
class PerRow(_Recorder):
    pass


def _decoders(model, prompts, planner, config):
    """Each loop's memories for the same decode: generate (all rows at once) and the engine (rows one by one)."""
    CREATED.clear()
    unmask.decode(model, prompts, config, planner=planner)
    through_decode = list(CREATED)
    CREATED.clear()
    engine = Engine(model)
    for prompt in prompts:
        engine.submit(prompt, config, planner=planner)
    while engine.step():
        pass
    return through_decode, list(CREATED)


def test_memory_per_block_is_fresh_on_each_block_of_each_row(tiny_model):
    config = DecodeConfig(planner="threshold", gen_length=12, block_length=4, eos_early_stop=False)
    for memories in _decoders(tiny_model, [[11, 12], [20, 21, 22]], PerBlock(tau=0.6), config):
        # 2 rows x 3 blocks, each memory sees one block's calls in order, from its first
        blocks = sorted(m[0][0] for m in memories if m)
        assert blocks == [0, 0, 1, 1, 2, 2]
        for m in memories:
            if m:
                assert len({block for block, _ in m}) == 1 and [s for _, s in m] == list(range(len(m)))


def test_memory_per_row_lasts_the_whole_decode(tiny_model):
    config = DecodeConfig(planner="threshold", gen_length=12, block_length=4, eos_early_stop=False)
    for memories in _decoders(tiny_model, [[11, 12], [20, 21, 22]], PerRow(tau=0.6), config):
        assert len(memories) == 2
        for m in memories:
            assert sorted({block for block, _ in m}) == [0, 1, 2] and m == sorted(m)


def test_diffusers_scheduler_renews_the_memory_when_a_block_starts():
    from unmask.integrations.diffusers import PlannerScheduler

    scheduler = PlannerScheduler("klass", block_length=6, planner_options={"history": 1})
    scheduler.set_timesteps(6, block_length=6)
    logits = torch.tensor([STEADY]).log().float()  # (1, 6, V); token 7 (nearly impossible) is the mask
    sample = torch.full((1, 6), 7)
    first = scheduler.step(logits, 0, sample, mask_token_id=7)
    assert chosen(first.transfer_index) == [[3]]  # no earlier call: the fallback
    second = scheduler.step(logits, 1, first.prev_sample, mask_token_id=7)
    assert chosen(second.transfer_index) == [[0, 1, 4, 5]]  # one KL of 0: every confident position
    again = scheduler.step(logits, 0, sample, mask_token_id=7)  # the pipeline's next block starts at 0
    assert chosen(again.transfer_index) == [[3]]
