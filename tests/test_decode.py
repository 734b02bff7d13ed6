"""The decode loop: invariants over every planner, batching, early stop, stop strings, counting, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import unmask
from unmask.planners import dilated_groups
from conftest import ScriptedDenoiser, tiny_llama

PLANNER_CASES = [
    ("dilated", {}), ("dilated", {"base": 3}), ("dilated", {"defer_below": 0.5}), ("binary", {}),
    ("confidence", {}), ("confidence", {"match": "dilated"}), ("margin", {"steps": 5}), ("entropy", {}),
    ("random", {"steps": 7}), ("left_to_right", {}), ("threshold", {"tau": 0.5}),
    ("threshold", {"tau": 0.3, "start_stride": 2}), ("entropy_bound", {"gamma": 1.0}),
    ("entropy_bound", {"gamma": 2.0, "start_stride": 4}), ("confidence", {"steps": 6, "start_stride": 3}),
    ("dilated", {"start_stride": 2}), ("klass", {}), ("klass", {"tau": 0.3, "kl_threshold": 0.5, "steps": 6}),
    ("credit", {"tau": 0.5}), ("credit", {"start_stride": 2}),
]


class Recorder:
    """Checks every StepEvent against the loop's invariants."""

    def __init__(self, B: int, G: int, K: int, mask_id: int):
        self.prev = torch.full((B, G), mask_id)
        self.K, self.mask_id = K, mask_id
        self.calls_per_row = torch.zeros(B, dtype=torch.long)
        self.calls_per_block: dict[tuple[int, int], int] = {}

    def __call__(self, event: unmask.StepEvent) -> None:
        was_masked = self.prev == self.mask_id
        assert not (event.revealed & ~was_masked).any(), "a position was revealed twice"
        changed = event.tokens != self.prev
        assert torch.equal(changed, event.revealed & (event.tokens != self.mask_id)), "tokens changed outside reveals"
        for row in event.rows.tolist():
            self.calls_per_row[row] += 1
            positions = event.revealed[row].nonzero().squeeze(-1)
            assert len(positions) >= 1, "an active row revealed nothing"
            blocks = (positions // self.K).unique()
            assert len(blocks) == 1, "one call revealed positions of two blocks"
            start = int(blocks[0]) * self.K
            assert not was_masked[row, :start].any(), "a later block was touched before an earlier one was complete"
            key = (row, int(blocks[0]))
            self.calls_per_block[key] = self.calls_per_block.get(key, 0) + 1
        self.prev = event.tokens.clone()


@pytest.mark.parametrize("planner,options", PLANNER_CASES, ids=[f"{p}-{o}" for p, o in PLANNER_CASES])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(G=st.integers(1, 40), K=st.integers(1, 20), lengths=st.lists(st.integers(1, 9), min_size=1, max_size=3),
       seed=st.integers(0, 3))
def test_invariants_hold_for_every_planner(tiny_model, planner, options, G, K, lengths, seed):
    if options.get("steps") and options["steps"] < math.ceil(G / K):
        options = {**options, "steps": math.ceil(G / K)}
    if options.get("steps"):  # nor more calls than the blocks have positions (rejected: tests/test_bad_inputs.py)
        most = unmask.get_planner(planner).most_steps(unmask.DecodeConfig(gen_length=G, block_length=K).block_lengths())
        options = {**options, "steps": min(options["steps"], most)}
    prompts = [[10 + ((seed + i * 7 + j) % 200) for j in range(n)] for i, n in enumerate(lengths)]
    seen_inputs = []
    original = tiny_model.block_logits

    def spy(ids, *args, **kw):  # what the loop calls once per model call
        seen_inputs.append(ids.clone())
        return original(ids, *args, **kw)

    tiny_model.block_logits = spy
    try:
        recorder = Recorder(len(prompts), G, K, tiny_model.mask_id)
        result = unmask.generate(tiny_model, prompts, planner=planner, gen_length=G, block_length=K,
                                 eos_early_stop=False, seed=seed, on_step=recorder, **options)
    finally:
        del tiny_model.block_logits
    P = max(lengths)
    assert len(seen_inputs) == int(result.nfe.max())
    for ids in seen_inputs:  # prompt tokens never change (rows may be a subset; compare against any original row)
        for row in ids[:, :P].tolist():
            assert any(row == [0] * (P - len(p)) + p for p in prompts)
    assert not (result.tokens == tiny_model.mask_id).any(), "a position was left masked"
    assert (result.reveal_step >= 1).all() and (result.reveal_step <= result.nfe[:, None]).all()
    assert torch.equal(result.nfe, recorder.calls_per_row)
    planner_obj = unmask.get_planner(planner, **options)
    blocks = unmask.DecodeConfig(gen_length=G, block_length=K).block_lengths()
    for row in range(len(prompts)):
        for b, n in enumerate(blocks):
            scheduled = planner_obj.steps_for(n, b, len(blocks))
            spent = recorder.calls_per_block[(row, b)]
            assert spent <= n
            if scheduled is not None and not options.get("defer_below"):
                assert spent == scheduled, f"block {b} took {spent} calls, scheduled {scheduled}"


@pytest.mark.parametrize("G,K", [(256, 32), (64, 8), (40, 16), (7, 4)])
def test_dilated_spends_one_call_per_group(tiny_model, G, K):
    result = unmask.generate(tiny_model, [[11, 12, 13]], planner="dilated", gen_length=G, block_length=K,
                             eos_early_stop=False)
    blocks = unmask.DecodeConfig(gen_length=G, block_length=K).block_lengths()
    assert int(result.nfe[0]) == sum(len(dilated_groups(n)) for n in blocks)
    if G == 256:
        assert int(result.nfe[0]) == 40 == 8 * math.ceil(math.log2(32))


def test_dilated_reveals_groups_in_order(tiny_model):
    result = unmask.generate(tiny_model, [[11, 12]], planner="dilated", gen_length=16, block_length=8,
                             eos_early_stop=False)
    assert result.reveal_step[0].tolist() == [1, 3, 2, 3, 1, 3, 2, 3, 4, 6, 5, 6, 4, 6, 5, 6]


@pytest.mark.parametrize("planner,options", [("dilated", {}), ("confidence", {}), ("threshold", {"tau": 0.4}),
                                             ("entropy_bound", {"gamma": 1.0}), ("random", {})])
@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_rows_do_not_depend_on_the_batch(tiny_model, planner, options, temperature):
    prompts = [[11, 12, 13, 14, 15], [20, 21], [30, 31, 32, 33, 34, 35, 36, 37]]
    kwargs = dict(planner=planner, gen_length=24, block_length=8, temperature=temperature, seed=5, **options)
    together = unmask.generate(tiny_model, prompts, **kwargs)
    for row, prompt in enumerate(prompts):
        alone = unmask.generate(tiny_model, [prompt], **kwargs)
        # a row's seed stream follows its index, so decode it alone at the same index
        if temperature > 0 or planner == "random":
            padded = [[40]] * row + [prompt]
            alone = unmask.generate(tiny_model, padded, **kwargs)
            alone_tokens, alone_nfe = alone.tokens[row], alone.nfe[row]
        else:
            alone_tokens, alone_nfe = alone.tokens[0], alone.nfe[0]
        assert torch.equal(together.tokens[row], alone_tokens)
        assert together.nfe[row] == alone_nfe


def test_seed_makes_sampling_reproducible(tiny_model):
    kwargs = dict(planner="confidence", gen_length=16, block_length=8, temperature=1.0)
    a = unmask.generate(tiny_model, [[11, 12]], seed=3, **kwargs)
    b = unmask.generate(tiny_model, [[11, 12]], seed=3, **kwargs)
    c = unmask.generate(tiny_model, [[11, 12]], seed=4, **kwargs)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, c.tokens)


def test_eos_early_stop_finishes_rows_and_stops_calling_them():
    # row 0 writes EOS at position 3; row 1 never does
    script = [[5, 6, 7, 2, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
              [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]]
    model = ScriptedDenoiser(script, prompt_len=2)
    result = unmask.generate(model, [[10, 3], [11, 3]], planner="left_to_right", gen_length=16, block_length=4)
    assert result.tokens[0].tolist() == [5, 6, 7] + [2] * 13
    assert result.nfe.tolist() == [4, 16]
    assert [len(c) for c in model.calls] == [2] * 4 + [1] * 12, "a finished row was still fed to the model"
    assert (result.reveal_step[0, 4:] == 4).all()
    off = unmask.generate(ScriptedDenoiser(script, 2), [[10, 3], [11, 3]], planner="left_to_right", gen_length=16,
                          block_length=4, eos_early_stop=False)
    assert off.nfe.tolist() == [16, 16] and off.tokens[0].tolist() == script[0]


def test_eos_needs_everything_before_it_revealed():
    # EOS at position 7 is the most confident and revealed first, but the row goes on until 0..6 are revealed
    conf = [0.5] * 7 + [0.99] + [0.4] * 8
    script = [[5, 6, 7, 8, 9, 10, 11, 2, 12, 13, 14, 15, 16, 17, 18, 19]]
    result = unmask.generate(ScriptedDenoiser(script, 1, conf=conf), [[10]], planner="confidence", gen_length=16,
                             block_length=16)
    assert result.reveal_step[0, 7] == 1
    assert result.nfe.tolist() == [8]
    assert result.tokens[0, :8].tolist() == script[0][:8] and (result.tokens[0, 8:] == 2).all()


def test_stop_strings_cut_text_and_finish_rows(tokenizer):
    answer = tokenizer("9+3=12\n#### 12\nQuestion: more", add_special_tokens=False)["input_ids"]
    model = ScriptedDenoiser([answer], 1, tokenizer=tokenizer, vocab=len(tokenizer))
    result = unmask.generate(model, [[10]], planner="left_to_right", gen_length=len(answer),
                             block_length=len(answer), stop=["\nQuestion:"])
    assert result.texts == ["9+3=12\n#### 12"]
    assert int(result.nfe[0]) < len(answer)


def test_cfg_counts_one_call_per_step(tiny_model):
    plain = unmask.generate(tiny_model, [[11, 12, 13]], planner="dilated", gen_length=16, block_length=8)
    guided = unmask.generate(tiny_model, [[11, 12, 13]], planner="dilated", gen_length=16, block_length=8,
                             cfg_scale=1.5, eos_early_stop=False)
    assert guided.nfe.tolist() == [6]
    assert plain.tokens.shape == guided.tokens.shape


def test_prompt_forms_agree(tiny_model, tokenizer):
    text = "Use 15,44,79 to make 50.\nEquations:\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    kwargs = dict(planner="dilated", gen_length=8, block_length=8)
    a = unmask.generate(tiny_model, text, **kwargs)
    b = unmask.generate(tiny_model, [ids], **kwargs)
    c = unmask.generate(tiny_model, torch.tensor([ids]), **kwargs)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(b.tokens, c.tokens)
    assert isinstance(a.texts[0], str)


class CountingModel(ScriptedDenoiser):
    pass


@pytest.mark.parametrize("kwargs,message", [
    ({"planner": "dilatd"}, "choose one of dilated"),
    ({"planner": "dilated", "tau": 0.5}, "its options are base, skip, defer_below"),
    ({"block_length": 0}, "block_length must be an integer >= 1"),
    ({"gen_length": 0}, "gen_length must be an integer >= 1"),
    ({"planner": "dilated", "base": 1.5}, "base must be an integer >= 2"),
    ({"planner": "dilated", "base": 1}, "base must be an integer >= 2"),
    ({"gen_length": 300}, "exceeds the model's maximum"),
    ({"planner": "confidence", "steps": 2, "gen_length": 64, "block_length": 8}, "use steps >= 8"),
    ({"temperature": -1}, "temperature must be >= 0"),
])
def test_bad_input_fails_before_any_model_call(kwargs, message):
    model = ScriptedDenoiser([[5] * 300], 1)
    model.max_length = 260
    with pytest.raises(ValueError, match=message):
        unmask.generate(model, [[10]], **{"gen_length": 16, "block_length": 8, **kwargs})
    assert model.calls == []


def test_empty_prompt_list_is_an_error():
    model = ScriptedDenoiser([[5] * 8], 1)
    with pytest.raises(ValueError, match="no prompts"):
        unmask.generate(model, [], gen_length=8, block_length=8)
    assert model.calls == []


def test_pad_equal_to_mask_is_an_error():
    with pytest.raises(ValueError, match="distinct pad token"):
        unmask.Denoiser(torch.nn.Linear(1, 1), None, mask_id=3, eos_id=2, pad_id=3)


def test_missing_mask_token_is_an_error(tokenizer):
    model = tiny_llama(len(tokenizer))
    model.config.mask_token_id = None
    with pytest.raises(ValueError, match="pass mask_id"):
        unmask.wrap_model(model, None, "bidirectional_llama")


def test_nan_logits_are_an_error():
    with pytest.raises(FloatingPointError, match="NaN logits"):
        unmask.generate(ScriptedDenoiser([[5] * 8], 1, nan=True), [[10]], gen_length=8, block_length=8)
