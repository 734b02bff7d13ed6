"""Revocable commits in the decode loop, and WINO: hand-built distributions, the loop's guarantees under a planner
that re-masks everything it may, the verification call, and the official decoder's outputs on the bundled model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

import unmask
from unmask.config import DecodeConfig
from unmask.engine import Engine, EngineLimits
from unmask.planners.base import bound_remasks
from unmask.planners.threshold import Threshold
from unmask.step import decode_step
from unmask.tasks import get_task
from test_planners import V, chosen, make_state, spread

OFFICIAL = Path(__file__).parent / "fixtures/official/wino_bundled.json"


def wino_state(probs, support, committed, step=1, previous=30):
    """A WINO StepState: `probs` (K, V) of the call, `support` (K,) each committed token's probability with its own
    position hidden, `committed` (K,) bools (the rest is masked and eligible)."""
    committed = torch.tensor([committed], dtype=torch.bool)
    base = make_state(probs, eligible=(~committed).tolist(), step=step)
    current = torch.where(committed, 3, 0)  # committed positions hold token 3
    verify = torch.full((1, committed.shape[1], V), 1e-9, dtype=torch.float64)
    verify[0, :, 3] = torch.tensor(support, dtype=torch.float64)
    verify[0, :, 4] = 1 - verify[0, :, 3]
    planner = unmask.get_planner("wino")
    memory = planner.new_memory()
    memory.previous = previous
    state = dataclasses.replace(base, current=current, committed=committed, verify_logits=verify.log(), memory=[memory])
    return planner, state, memory


def test_wide_in_takes_everything_above_tau_and_at_least_the_best():
    planner, state, _ = wino_state([spread(0.7), spread(0.5), spread(0.65), spread(0.3)], [0] * 4, [False] * 4)
    assert chosen(planner.select(state)) == [[0, 2]]
    planner, state, _ = wino_state([spread(0.2), spread(0.5), spread(0.4)], [0] * 3, [False] * 3)
    assert chosen(planner.select(state)) == [[1]]


def test_wide_in_is_capped_at_seventy_percent_of_the_masks_between_5_and_20():
    # 10 masked, all confident: the cap is int(10 * 0.7) = 7, the most confident first
    probs = [spread(0.90 + 0.005 * i) for i in range(10)]
    planner, state, _ = wino_state(probs, [0] * 10, [False] * 10)
    assert chosen(planner.select(state)) == [[3, 4, 5, 6, 7, 8, 9]]
    # 4 masked: the cap is 5, so all 4 are taken
    planner, state, _ = wino_state(probs[:4], [0] * 4, [False] * 4)
    assert chosen(planner.select(state)) == [[0, 1, 2, 3]]


def test_narrow_out_remasks_poorly_supported_commits_after_a_wide_call():
    probs = [spread(0.9), spread(0.9), spread(0.95), spread(0.95), spread(0.3)]
    committed = [True, True, False, False, False]
    planner, state, memory = wino_state(probs, [0.5, 0.95, 0, 0, 0], committed)
    selected = planner.select(state)
    assert chosen(selected) == [[2, 3]]
    assert chosen(planner.revise(state, selected)) == [[0]]  # 0.5 < tau_back 0.9; 0.95 is kept
    assert memory.previous == 2


def test_no_remask_after_a_call_that_committed_one_position():
    planner, state, memory = wino_state([spread(0.9), spread(0.3), spread(0.2)], [0.1, 0, 0], [True, False, False])
    selected = planner.select(state)
    assert chosen(selected) == [[1]]
    assert chosen(planner.revise(state, selected)) == [[]]
    assert memory.previous == 1


def test_remasks_are_limited_to_one_fewer_than_the_previous_call_committed():
    probs = [spread(0.9)] * 4 + [spread(0.95)] * 2
    committed = [True, True, True, True, False, False]
    planner, state, _ = wino_state(probs, [0.5, 0.2, 0.4, 0.3, 0, 0], committed, previous=3)
    selected = planner.select(state)
    assert chosen(planner.revise(state, selected)) == [[1, 3]]  # 4 doubted >= 3: the 2 least supported


def test_bound_keeps_at_least_t_commits_after_the_t_th_call():
    planner, state, _ = wino_state([spread(0.9)] * 4, [0.1, 0.2, 0.3, 0.0], [True, True, True, False], step=1)
    selected = torch.tensor([[False, False, False, True]])
    everything = state.committed.clone()
    # after the 2nd call 4 positions are committed, so at most 2 may go: the least supported
    assert chosen(bound_remasks(everything, state, selected)) == [[0, 1]]
    # never this call's commit, never a masked position
    assert chosen(bound_remasks(torch.ones(1, 4, dtype=torch.bool), state, selected)) == [[0, 1]]


class RemaskEverything(Threshold):
    """A hostile planner: commits by threshold, then asks to re-mask every earlier commit of the block."""

    revises = True

    def revise(self, state, selected):
        return state.committed


@pytest.fixture(scope="module")
def bundled():
    return unmask.load_model()


@pytest.fixture(scope="module")
def prompts():
    """Prompts: 4 sudoku puzzles (since v4 WINO rarely revises them) and 4 arith problems (where it does)."""
    return [task.prompt(r) for task in (get_task("sudoku"), get_task("arith")) for r in task.generate(4, seed=4)]


def test_loop_bounds_a_planner_that_remasks_everything(bundled, prompts):
    events = []
    out = unmask.generate(bundled, prompts, planner=RemaskEverything(tau=0.99), gen_length=32, block_length=16,
                          eos_early_stop=False, on_step=events.append)
    assert int(out.nfe.max()) == 32  # 2 blocks of 16 masked positions: at most 16 calls each, and it takes them all
    assert (out.tokens != bundled.mask_id).all()
    assert (out.reveal_step >= 1).all() and (out.reveal_step <= out.nfe[:, None]).all()
    assert int(out.remasks.sum()) > 0
    assert sum(int(e.remasked.sum()) for e in events) == int(out.remasks.sum())
    for event in events:  # a position re-masked by a call is masked in that call's tokens
        assert (event.tokens[event.remasked] == bundled.mask_id).all()


def test_reveal_step_is_the_final_commit(bundled, prompts):
    events = []
    out = unmask.generate(bundled, prompts, planner="wino", gen_length=32, block_length=16, eos_early_stop=False,
                          on_step=events.append)
    calls = torch.zeros(len(prompts), dtype=torch.long)  # each row's own call count
    first, last = torch.zeros_like(out.reveal_step), torch.zeros_like(out.reveal_step)
    for event in events:
        calls[event.rows] += 1
        now = calls[:, None].expand_as(last)
        first = torch.where(event.revealed & (first == 0), now, first)
        last = torch.where(event.revealed, now, last)
        last = torch.where(event.remasked, 0, last)
    assert torch.equal(out.reveal_step, last)
    reopened = out.remasks > 0
    assert reopened.any() and (last[reopened] > first[reopened]).all()


def test_planners_that_do_not_revise_never_remask(bundled, prompts):
    for name in unmask.available_planners():
        planner = unmask.get_planner(name)
        if planner.revises:
            continue
        out = unmask.generate(bundled, prompts[:2], planner=name, gen_length=16, block_length=8)
        assert int(out.remasks.sum()) == 0, name


def test_verification_hides_only_the_position_itself(bundled):
    """Real positions never see the shadows; with one layer, a lone shadow is exactly the sequence re-run with its
    column masked (deeper, the other positions still saw the real token, and shadows see each other: WINO's
    approximation, not a re-run)."""
    from test_families import one_layer
    ids = torch.tensor([[5, 9, 17, 23, 31, 40, 63, 63]])
    columns = torch.tensor([[2, 4, 5, 6]])
    for model in (bundled, one_layer("llada")):
        block, hidden = model.verified_block_logits(ids, None, columns)
        assert torch.allclose(block, model.block_logits(ids, None, columns, shared=True), atol=1e-5)
    for column in columns[0].tolist():
        masked = ids.clone()
        masked[0, column] = model.mask_id
        _, alone = model.verified_block_logits(ids, None, torch.tensor([[column]]))
        assert torch.allclose(alone[0, 0], model(masked)[0, column], atol=1e-5)


def test_verification_of_a_padded_row_equals_the_row_alone(bundled):
    rows = bundled.tokenizer(["12+7=", "Solve the sudoku:\n1034"], add_special_tokens=False)["input_ids"]
    L = max(map(len, rows))
    ids = torch.tensor([[bundled.pad_id] * (L - len(r)) + r for r in rows])
    attention = torch.tensor([[0] * (L - len(r)) + [1] * len(r) for r in rows])
    columns = torch.tensor([[L - 3, L - 2, L - 1]] * 2)
    block, hidden = bundled.verified_block_logits(ids, attention, columns)
    short = torch.tensor([rows[0]])
    n = len(rows[0])
    solo_block, solo_hidden = bundled.verified_block_logits(short, None, torch.tensor([[n - 3, n - 2, n - 1]]))
    assert torch.allclose(block[0], solo_block[0], atol=1e-4)
    assert torch.allclose(hidden[0], solo_hidden[0], atol=1e-4)


def test_wino_refuses_what_it_cannot_do_before_any_model_call(bundled):
    dream = unmask.load_model(Path(__file__).parent / "fixtures/official/dream-tiny")
    with pytest.raises(ValueError, match="own token hidden.*DreamDenoiser"):
        unmask.generate(dream, ["hi"], planner="wino", gen_length=8, block_length=8)
    with pytest.raises(ValueError, match="cache='none'"):
        unmask.generate(bundled, ["1+1="], planner="wino", gen_length=8, block_length=8, cache="prefix")
    with pytest.raises(ValueError, match="cfg_scale=0"):
        unmask.generate(bundled, ["1+1="], planner="wino", gen_length=8, block_length=8, cfg_scale=1.0)
    with pytest.raises(ValueError, match="tau_back"):
        unmask.get_planner("wino", tau_back=1.5)


def test_engine_rows_with_wino_equal_generate_alone(bundled, prompts):
    """Revising rows share calls with other planners' rows in the serving engine and still decode as alone."""
    engine = Engine(bundled, EngineLimits(max_rows=4))
    configs = [DecodeConfig(planner="wino", gen_length=32, block_length=16, eos_early_stop=False),
               DecodeConfig(planner="threshold", gen_length=32, block_length=16),
               DecodeConfig(planner="wino", planner_options={"tau": 0.6}, gen_length=32, block_length=16)]
    requests = [(prompts[i], configs[i % len(configs)]) for i in range(len(prompts))]
    ids = [bundled.tokenizer(p, add_special_tokens=False)["input_ids"] for p, _ in requests]
    handles = [engine.submit(i, config) for i, (_, config) in zip(ids, requests)]
    while engine.step():
        pass
    remasks = 0
    for (prompt, config), handle in zip(requests, handles):
        alone = unmask.decode(bundled, [prompt], config)
        completion = handle.result(0)
        assert torch.equal(completion.tokens, alone.tokens[0]) and completion.nfe == int(alone.nfe[0]), config
        assert torch.equal(completion.reveal_step, alone.reveal_step[0])
        remasks += int(alone.remasks.sum())
    assert remasks > 0


def test_diffusers_scheduler_refuses_revision():
    diffusers = pytest.importorskip("unmask.integrations.diffusers")
    with pytest.raises(ValueError, match="re-masks committed tokens"):
        diffusers.PlannerScheduler("wino")


def test_equals_the_official_decoder_on_the_bundled_model(bundled):
    reference = json.loads(OFFICIAL.read_text())
    weights = unmask.bundled_model_path() / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == reference["weights_sha256"], (
        "the bundled weights changed: rebuild the fixture with benchmarks/official_wino.py --save")
    decodes = reference["decodes"][::3]  # every setting, a third of the prompts (the benchmark runs all 288)
    assert len(decodes) >= 90
    same_tokens = same_calls = 0
    for d in decodes:
        out = unmask.generate(bundled, [d["prompt"]], planner="wino", tau=d["tau"], tau_back=d["tau_back"],
                              gen_length=d["gen_length"], block_length=d["block_length"], eos_early_stop=False)
        same_tokens += out.tokens[0].tolist() == d["tokens"]
        same_calls += int(out.nfe[0]) == d["calls"]
    assert same_tokens == same_calls == len(decodes)


def test_verified_eb_drafts_the_eb_set_and_verifies_like_wino():
    probs = [spread(0.99), spread(0.98), spread(0.6), spread(0.5), spread(0.9)]
    committed = [False, False, False, False, True]
    _, state, _ = wino_state(probs, [0, 0, 0, 0, 0.3], committed)
    planner = unmask.get_planner("verified_eb", gamma=0.5)
    state = dataclasses.replace(state, memory=[planner.new_memory()])
    selected = planner.select(state)
    assert torch.equal(selected, unmask.get_planner("entropy_bound", gamma=0.5).select(state))
    assert chosen(selected) == [[0, 1, 2]]  # cumsum - cummax of the sorted entropies stays within 0.5 bits
    assert chosen(planner.revise(state, selected)) == [[4]]  # 0.3 < tau_back 0.9 after a 3-position call
    assert "gamma" in planner.options() and "tau" not in planner.options()


def test_verified_eb_through_generate_keeps_the_bound(bundled, prompts):
    out = unmask.generate(bundled, prompts, planner="verified_eb", gamma=1.0, gen_length=32, block_length=16)
    assert (out.tokens != bundled.mask_id).all() and (out.nfe <= 32).all()
    eb = unmask.generate(bundled, prompts, planner="entropy_bound", gamma=1.0, gen_length=32, block_length=16)
    same = out.remasks.sum(-1) == 0  # rows never revised decode exactly as EB
    assert same.any() and torch.equal(out.tokens[same], eb.tokens[same])
