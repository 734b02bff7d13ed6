"""LLaDA and Dream checkpoints in their official layout, loaded natively (no remote code), against outputs of the
families' own code.

The fixtures in tests/fixtures/official/ are tiny random-weight checkpoints with the official config fields, weight
names and special ids; their reference logits and decodes were produced by the official modelling code and decoders
under transformers 4.57.1 (`build_fixtures.py` there names the repositories and commits). These tests need neither
that transformers nor any network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import unmask
from unmask.models.adapters import shift_right

FIXTURES = Path(__file__).parent / "fixtures" / "official"
DREAM_ALGS = {"maskgit_plus": "confidence", "topk_margin": "margin", "entropy": "entropy"}


@pytest.fixture(scope="module")
def llada():
    return unmask.load_model(FIXTURES / "llada-tiny")


@pytest.fixture(scope="module")
def dream():
    return unmask.load_model(FIXTURES / "dream-tiny")


def cases(family: str) -> list[dict]:
    return json.loads((FIXTURES / f"{family}-tiny" / "reference_generate.json").read_text())["cases"]


def test_families_load_natively_with_official_ids(llada, dream):
    assert type(llada.model).__name__ == "LlamaForCausalLM" and llada.model.config.is_causal is False
    assert (llada.mask_id, llada.eos_id, llada.stop_ids) == (126336, 126081, (126081, 126348))
    assert type(dream.model).__name__ == "Qwen2ForCausalLM" and dream.model.config.is_causal is False
    assert (dream.mask_id, dream.eos_id, dream.logit_shift) == (151666, 151643, 1)


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_logits_equal_the_official_code(family, request):
    model = request.getfixturevalue(family)
    reference = load_file(str(FIXTURES / f"{family}-tiny" / "reference_logits.safetensors"))
    with torch.inference_mode():
        raw = model.model(reference["input_ids"]).logits  # (2, 16, V), unshifted as the official forward returns
        adapted = model(reference["input_ids"])
    assert (raw[..., reference["columns"]] - reference["logits"]).abs().max() <= 1e-4
    assert (raw.logsumexp(-1) - reference["logsumexp"]).abs().max() <= 1e-4
    assert torch.equal(raw.argmax(-1), reference["argmax"])
    assert torch.equal(adapted, shift_right(raw, model.logit_shift))


@pytest.mark.parametrize("case", cases("llada"), ids=lambda c: f"b{c['block_length']}-s{c['steps']}-cfg{c['cfg_scale']}")
def test_confidence_equals_llada_generate(llada, case):
    result = unmask.generate(llada, [case["prompt"]], planner="confidence", steps=case["steps"],
                             gen_length=case["gen_length"], block_length=case["block_length"],
                             cfg_scale=case["cfg_scale"], eos_early_stop=False)
    assert result.tokens[0].tolist() == case["tokens"]
    assert int(result.nfe[0]) == case["steps"]


@pytest.mark.parametrize("case", cases("dream"), ids=lambda c: f"{c['alg']}-s{c['steps']}")
def test_dream_schedule_equals_diffusion_generate(dream, case):
    result = unmask.generate(dream, [case["prompt"]], planner=DREAM_ALGS[case["alg"]], schedule="dream",
                             steps=case["steps"], gen_length=case["gen_length"], block_length=case["gen_length"],
                             eos_early_stop=False)
    assert result.tokens[0].tolist() == case["tokens"]
    assert int(result.nfe[0]) == case["calls_that_reveal"] <= case["steps"]  # Dream's calls that reveal nothing are skipped


def test_even_schedule_differs_from_dream_where_the_schedules_differ(dream):
    """The schedule option matters: LLaDA's even split does not give Dream's tokens (so the test above can fail)."""
    differ = 0
    for case in cases("dream"):
        if case["steps"] == 4 and case["alg"] == "maskgit_plus":
            even = unmask.generate(dream, [case["prompt"]], planner="confidence", steps=4, gen_length=16,
                                   block_length=16, eos_early_stop=False)
            differ += even.tokens[0].tolist() != case["tokens"]
    assert differ >= 1
