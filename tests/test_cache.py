"""KV caching: exact where it must be (block-start calls, unchanged inputs), and usable with every planner."""

from __future__ import annotations

import pytest
import torch

import unmask
from unmask.cache import CachedRunner
from unmask.models.base import positions_from_mask
from conftest import tiny_llama

PROMPTS = [[11, 12, 13, 14, 15], [20, 21], [30, 31, 32, 33, 34, 35, 36, 37]]


@pytest.fixture(scope="module")
def model():
    return unmask.wrap_model(tiny_llama(100, seed=3), None, "bidirectional_llama", mask_id=1)


@pytest.mark.parametrize("mode", ["prefix", "dual"])
def test_unchanged_block_gives_the_uncached_logits(model, mode):
    ids = torch.randint(3, 100, (3, 20))
    attention = torch.ones_like(ids)
    attention[1, :4] = 0
    positions = positions_from_mask(attention)
    runner = CachedRunner(model, mode)
    slots = torch.tensor([0, 1, 2])
    with torch.inference_mode():
        full = model(ids, attention)[:, 8:16]
        first = runner(ids, attention, positions, slots, 8, 16, torch.zeros(3, dtype=torch.long), 8)
        later = runner(ids, attention, positions, slots, 8, 16, torch.ones(3, dtype=torch.long), 8)
    assert torch.allclose(first, full, atol=1e-5)
    assert torch.allclose(later, full, atol=1e-4)


@pytest.mark.parametrize("mode", ["prefix", "dual"])
@pytest.mark.parametrize("cfg_scale", [0.0, 1.0])
def test_one_call_per_block_is_exact(model, mode, cfg_scale):
    # block_length 2: dilated makes one call per block, and every block-start call is uncached
    kwargs = dict(planner="dilated", gen_length=12, block_length=2, eos_early_stop=False, cfg_scale=cfg_scale)
    plain = unmask.generate(model, PROMPTS, **kwargs)
    cached = unmask.generate(model, PROMPTS, cache=mode, **kwargs)
    assert torch.equal(plain.tokens, cached.tokens)
    assert torch.equal(plain.nfe, cached.nfe)


@pytest.mark.parametrize("planner,options", [("dilated", {}), ("confidence", {}), ("threshold", {"tau": 0.5}),
                                             ("entropy_bound", {"gamma": 1.0}), ("random", {"steps": 6}),
                                             ("margin", {"match": "dilated"})])
@pytest.mark.parametrize("mode", ["prefix", "dual"])
def test_every_planner_runs_cached_with_the_same_call_count(model, planner, options, mode):
    kwargs = dict(planner=planner, gen_length=24, block_length=8, eos_early_stop=False, seed=0, **options)
    plain = unmask.generate(model, PROMPTS, **kwargs)
    cached = unmask.generate(model, PROMPTS, cache=mode, **kwargs)
    assert not (cached.tokens == model.mask_id).any()
    if planner not in ("threshold", "entropy_bound"):  # adaptive planners may take other paths on other logits
        assert torch.equal(plain.nfe, cached.nfe)


def test_cache_needs_an_adapter_that_takes_one(tiny_model):
    from conftest import ScriptedDenoiser

    with pytest.raises(ValueError, match="use cache='none'"):
        unmask.generate(ScriptedDenoiser([[5] * 8], 1), [[10]], gen_length=8, block_length=8, cache="prefix")


def test_the_cache_goes_to_the_keyword_the_installed_transformers_reads():
    """transformers renamed the forward's `past_key_values` to `cache` during 5.x; an older forward swallows `cache=`
    in **kwargs and leaves the KV cache empty, so the adapter must pick the name the forward declares."""
    from unmask.models.adapters import _cache_keyword

    class Before:
        def forward(self, input_ids=None, past_key_values=None, use_cache=None, **kwargs):
            pass

    class After:
        def forward(self, input_ids=None, cache=None, use_cache=None, **kwargs):
            pass

    assert _cache_keyword(Before) == "past_key_values" and _cache_keyword(After) == "cache"
