"""The continuous-batching engine: every request's tokens and NFE equal `generate` on it alone, whatever joins or
leaves the batch around it; limits, cancellation, timeouts and model faults."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import unmask
from unmask.config import DecodeConfig
from unmask.engine import Engine, EngineBusy, EngineLimits, RequestFailed, length_buckets

PROMPTS = [[11, 12, 13, 14, 15], [20, 21], [30, 31, 32, 33, 34, 35, 36, 37], [40, 41, 42]]
CONFIGS = [
    DecodeConfig(planner="dilated", gen_length=24, block_length=8),
    DecodeConfig(planner="threshold", planner_options={"tau": 0.4}, gen_length=20, block_length=6),
    DecodeConfig(planner="confidence", gen_length=16, block_length=16, temperature=0.8, seed=3),
    DecodeConfig(planner="entropy_bound", planner_options={"gamma": 1.0}, gen_length=30, block_length=10),
    DecodeConfig(planner="random", gen_length=12, block_length=4, seed=7),
    DecodeConfig(planner="dilated", gen_length=16, block_length=8, cfg_scale=1.0, eos_early_stop=False),
    DecodeConfig(planner="margin", planner_options={"steps": 6}, gen_length=12, block_length=12, top_k=20),
    DecodeConfig(planner="threshold", gen_length=16, block_length=8, cache="prefix"),
    DecodeConfig(planner="dilated", gen_length=16, block_length=8, cache="dual"),
    DecodeConfig(planner="left_to_right", gen_length=10, block_length=5, stop=("a",)),
    DecodeConfig(planner="klass", planner_options={"tau": 0.3, "kl_threshold": 0.5}, gen_length=18, block_length=6),
    DecodeConfig(planner="credit", planner_options={"tau": 0.5}, gen_length=16, block_length=8, temperature=0.7,
                 seed=2),
]


def assert_alone(model, prompt, config, completion):
    alone = unmask.decode(model, [prompt], config)
    assert torch.equal(completion.tokens, alone.tokens[0]), config
    assert completion.nfe == int(alone.nfe[0]), config
    assert torch.equal(completion.reveal_step, alone.reveal_step[0]), config
    assert completion.text == alone.texts[0]


def test_rows_that_join_and_leave_equal_generate_alone(tiny_model):
    engine = Engine(tiny_model, EngineLimits(max_rows=3))  # fewer rows than requests: they join as others leave
    rows_per_call = []
    engine.on_call = lambda rows, seconds: rows_per_call.append(rows)
    requests = [(PROMPTS[i % len(PROMPTS)], config) for i, config in enumerate(CONFIGS)]
    handles = [engine.submit(prompt, config) for prompt, config in requests]
    while engine.step():
        pass
    assert max(rows_per_call) == 3 and len(set(rows_per_call)) > 1
    for (prompt, config), handle in zip(requests, handles):
        assert_alone(tiny_model, prompt, config, handle.result(0))


def test_concurrent_submitters_on_the_thread(tiny_model):
    engine = Engine(tiny_model, EngineLimits(max_rows=4)).start()
    results = {}

    def client(i):
        time.sleep(0.01 * i)  # staggered: requests arrive while others are mid-decode
        prompt, config = PROMPTS[i % len(PROMPTS)], CONFIGS[(3 * i) % len(CONFIGS)]
        results[i] = (prompt, config, engine.submit(prompt, config).result(60))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.stop()
    assert len(results) == 8
    for prompt, config, completion in results.values():
        assert_alone(tiny_model, prompt, config, completion)


def test_listener_sees_every_call_and_the_final_tokens(tiny_model):
    engine = Engine(tiny_model)
    events = []
    handle = engine.submit(PROMPTS[0], CONFIGS[0], listener=events.append)
    while engine.step():
        pass
    completion = handle.result(0)
    assert [e.nfe for e in events] == list(range(1, completion.nfe + 1))
    assert [e.finished for e in events] == [False] * (completion.nfe - 1) + [True]
    assert torch.equal(events[-1].tokens, completion.tokens)
    revealed = torch.cat([e.revealed for e in events]).sort().values
    assert torch.equal(revealed, torch.arange(CONFIGS[0].gen_length))


def test_cancelled_row_leaves_before_the_next_call(tiny_model):
    engine = Engine(tiny_model)
    batch_sizes = []
    original = tiny_model.block_logits
    tiny_model.block_logits = lambda ids, *a, **k: batch_sizes.append(len(ids)) or original(ids, *a, **k)
    try:
        config = DecodeConfig(planner="left_to_right", gen_length=8, block_length=8, eos_early_stop=False)
        keep, drop = engine.submit(PROMPTS[0], config), engine.submit(PROMPTS[1], config)
        engine.step()
        drop.cancel()
        while engine.step():
            pass
    finally:
        del tiny_model.block_logits
    assert batch_sizes == [2] + [1] * 7
    with pytest.raises(RequestFailed, match="cancelled") as info:
        drop.result(0)
    assert info.value.status == 499
    assert keep.result(0).nfe == 8


def test_full_queue_refuses_with_a_retry_hint(tiny_model):
    engine = Engine(tiny_model, EngineLimits(max_rows=1, max_queued=2))
    for _ in range(2):
        engine.submit(PROMPTS[0], CONFIGS[0])
    with pytest.raises(EngineBusy) as info:
        engine.submit(PROMPTS[0], CONFIGS[0])
    assert info.value.retry_after >= 1


def test_timeout_fails_the_request(tiny_model):
    engine = Engine(tiny_model, EngineLimits(timeout_s=0.05))
    handle = engine.submit(PROMPTS[0], DecodeConfig(planner="left_to_right", gen_length=16, block_length=8,
                                                    eos_early_stop=False))
    engine.step()
    time.sleep(0.1)
    engine.step()
    with pytest.raises(RequestFailed, match="timeout") as info:
        handle.result(0)
    assert info.value.status == 504


def test_model_errors_fail_that_call_and_the_engine_goes_on(tiny_model):
    engine = Engine(tiny_model)
    original = tiny_model.block_logits
    state = {"calls": 0}

    def faulty(ids, *args, **kwargs):
        state["calls"] += 1
        if state["calls"] == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        logits = original(ids, *args, **kwargs)
        poisoned = (ids == 99).any(-1)  # rows whose prompt holds token 99 get NaN logits
        return logits.masked_fill(poisoned[:, None, None], float("nan"))

    tiny_model.block_logits = faulty
    try:
        first = engine.submit(PROMPTS[0], CONFIGS[0])
        engine.step()
        engine.step()  # the failing call
        with pytest.raises(RequestFailed, match="out of memory") as info:
            first.result(0)
        assert info.value.status == 500
        poisoned, healthy = engine.submit([99, 12], CONFIGS[0]), engine.submit(PROMPTS[1], CONFIGS[0])
        while engine.step():
            pass
    finally:
        del tiny_model.block_logits
    with pytest.raises(RequestFailed, match="NaN"):
        poisoned.result(0)
    assert_alone(tiny_model, PROMPTS[1], CONFIGS[0], healthy.result(0))


@pytest.mark.parametrize("fields,message", [
    ({"planner": "dilatd"}, "unknown planner"),
    ({"gen_length": 600}, "exceeds the model's maximum"),
    ({"planner": "confidence", "planner_options": {"steps": 2}, "gen_length": 64, "block_length": 8}, "steps"),
])
def test_bad_requests_fail_before_queueing(tiny_model, fields, message):
    engine = Engine(tiny_model)
    with pytest.raises(ValueError, match=message):
        engine.submit(PROMPTS[0], DecodeConfig(**fields))
    with pytest.raises(ValueError, match="mask token"):
        engine.submit([11, tiny_model.mask_id], CONFIGS[0])
    assert engine.queued == 0 and not engine.step()


@pytest.mark.parametrize("lengths,overhead,expected", [
    ([10, 100, 12], 5, [[0, 2], [1]]),  # padding 10 -> 100 costs more than a second forward
    ([10, 100, 12], 1000, [[0, 2, 1]]),  # a forward costs more than any padding: one forward
    ([50], 64, [[0]]),
    ([], 64, []),
])
def test_length_buckets_minimise_padding_plus_overhead(lengths, overhead, expected):
    assert length_buckets(lengths, overhead) == expected


def test_rows_split_by_length_still_equal_generate_alone(tiny_model):
    engine = Engine(tiny_model, EngineLimits(call_overhead=0))  # every length in its own forward
    forwards = []
    original = tiny_model.block_logits
    tiny_model.block_logits = lambda ids, *a, **k: forwards.append(ids.shape) or original(ids, *a, **k)
    try:
        handles = [engine.submit(prompt, CONFIGS[0]) for prompt in PROMPTS]
        engine.step()
    finally:
        del tiny_model.block_logits
    assert len(forwards) == len({len(p) for p in PROMPTS})
    while engine.step():
        pass
    for prompt, handle in zip(PROMPTS, handles):
        assert_alone(tiny_model, prompt, CONFIGS[0], handle.result(0))
