"""unmask planners inside diffusers' LLaDA2Pipeline, on the bundled model (a bidirectional Llama fits its interface)."""

from __future__ import annotations

import pytest
import torch
from diffusers import LLaDA2Pipeline
from transformers import AutoTokenizer, LlamaForCausalLM

import unmask
from unmask.integrations.diffusers import PlannerScheduler
from unmask.tasks import get_task


@pytest.fixture(scope="module")
def bundled():
    """(hf model whose forward calls are counted, tokenizer, unmask model, call counter)."""
    path = unmask.bundled_model_path()
    hf = LlamaForCausalLM.from_pretrained(path).eval()
    calls = {"n": 0}
    forward = hf.forward

    def counting(*args, **kwargs):
        calls["n"] += 1
        return forward(*args, **kwargs)

    hf.forward = counting
    return hf, AutoTokenizer.from_pretrained(path), unmask.load_model(path), calls


def _pipe(hf, tokenizer, planner, block_length, **options):
    pipe = LLaDA2Pipeline(model=hf, tokenizer=tokenizer,
                          scheduler=PlannerScheduler(planner, block_length=block_length, planner_options=options))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize("planner,options", [("dilated", {}), ("threshold", {"tau": 0.9}),
                                             ("confidence", {"match": "dilated"}), ("entropy_bound", {"gamma": 0.1}),
                                             ("confidence", {"steps": 4}), ("klass", {"tau": 0.6}),
                                             ("credit", {"tau": 0.7}), ("threshold", {"start_stride": 2})])
def test_one_block_equals_unmask_generate_tokens_and_calls(bundled, planner, options):
    hf, tokenizer, model, calls = bundled
    pipe = _pipe(hf, tokenizer, planner, 16, **options)
    task = get_task("sudoku")
    for item in task.generate(4, seed=5):
        ids = tokenizer(task.prompt(item), add_special_tokens=False)["input_ids"]
        ids = ids[len(ids) % 16:]  # a block-aligned prompt: the pipeline's block then starts where unmask's does
        calls["n"] = 0
        out = pipe(input_ids=torch.tensor([ids]), gen_length=16, block_length=16, editing_threshold=None,
                   eos_early_stop=False)
        ref = unmask.generate(model, [ids], planner=planner, gen_length=16, block_length=16, eos_early_stop=False,
                              **options)
        assert torch.equal(out.sequences, ref.tokens)
        assert calls["n"] == int(ref.nfe[0])


def test_dilated_spends_exactly_its_schedule_per_block_and_fills_every_mask(bundled):
    hf, tokenizer, _, calls = bundled
    pipe = _pipe(hf, tokenizer, "dilated", 8)
    prompts = [get_task("sudoku").prompt(item) for item in get_task("sudoku").generate(3, seed=1)]
    calls["n"] = 0
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    tokenizer.padding_side = "left"
    out = pipe(prompt=prompts, gen_length=32, block_length=8, use_chat_template=False, eos_early_stop=False,
               editing_threshold=None)
    prompt_length = max(lengths)
    blocks = (prompt_length + 32 + 7) // 8 - prompt_length // 8
    assert calls["n"] == 3 * blocks  # ceil(log2 8) calls per block, none spent on a full block
    assert not (out.sequences == tokenizer.mask_token_id).any()


@pytest.mark.parametrize("options", [{}, {"start_stride": 2}])
def test_budget_of_the_confidence_family_comes_from_num_inference_steps(bundled, options):
    hf, tokenizer, _, calls = bundled
    pipe = _pipe(hf, tokenizer, "confidence", 16, **options)
    ids = torch.tensor([tokenizer("Solve the sudoku:\n1003\n0300\n3210\n4132\nSolution:\n")["input_ids"][-16:]])
    calls["n"] = 0
    pipe(input_ids=ids, gen_length=16, block_length=16, num_inference_steps=4, editing_threshold=None,
         eos_early_stop=False)
    assert calls["n"] == 4


def test_bad_planner_and_missing_mask_token_fail_clearly():
    with pytest.raises(ValueError, match="unknown planner"):
        PlannerScheduler("nope")
    with pytest.raises(ValueError, match="has no option tau"):
        PlannerScheduler("dilated", planner_options={"tau": 0.5})
    scheduler = PlannerScheduler("dilated", block_length=8)
    with pytest.raises(RuntimeError, match="set_timesteps"):
        scheduler.step(torch.zeros(1, 8, 5), 0, torch.zeros(1, 8, dtype=torch.long), mask_token_id=1)
    scheduler.set_timesteps(8, block_length=8)
    assert scheduler.num_inference_steps == 3
    with pytest.raises(ValueError, match="mask_token_id"):
        scheduler.step(torch.zeros(1, 8, 5), 0, torch.zeros(1, 8, dtype=torch.long))


def test_config_round_trips(tmp_path):
    scheduler = PlannerScheduler("threshold", block_length=32, planner_options={"tau": 0.8})
    scheduler.save_config(tmp_path)
    loaded = PlannerScheduler.from_pretrained(tmp_path)
    assert loaded.planner == scheduler.planner and loaded.config.block_length == 32
