"""Every model family decodes its rows independently of the batch, and LLaDA / Dream decode with a KV cache.

Ragged batches: a row's tokens equal its solo decode for LLaDA and Dream (the official-layout fixtures), the
bundled model, BERT, RoBERTa (positions from `padding_idx + 1`) and ModernBERT.

Caches: with one layer, a block's prefix and suffix keys/values depend only on tokens that do not change inside the
block, so `prefix` and `dual` must then give exactly the uncached tokens; that pins down positions, padding and
Dream's one-position shift under the cache. With more layers the cache is Fast-dLLM's approximation, and every
planner must still run to completion with its usual call count.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM, ModernBertConfig,
                          ModernBertForMaskedLM, Qwen2Config, Qwen2ForCausalLM, RobertaConfig, RobertaForMaskedLM)

import unmask

FIXTURES = Path(__file__).parent / "fixtures" / "official"
PROMPTS = [[11, 12, 13, 14, 15, 16, 17], [20, 21], [30, 31, 32, 33, 34]]
PLANNERS = [("dilated", {}), ("confidence", {}), ("threshold", {"tau": 0.5}), ("entropy_bound", {"gamma": 1.0})]


class Ids:
    """The few tokenizer attributes `wrap_model` reads (no text is decoded in these tests)."""

    def __init__(self, mask: int, eos: int, pad: int):
        self.mask_token_id, self.eos_token_id, self.pad_token_id = mask, eos, pad

    def decode(self, ids, **kwargs) -> str:
        return " ".join(map(str, ids))


def peaked(model, head):
    """Random weights with an output layer scaled so that logits are far from ties."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
        head.weight.normal_(0, 2.0)
    return model.eval()


def masked_lm(family: str):
    common = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  max_position_embeddings=64, pad_token_id=1)
    if family == "bert":
        model = BertForMaskedLM(BertConfig(**common))
    elif family == "roberta":
        model = RobertaForMaskedLM(RobertaConfig(**common))
    else:
        model = ModernBertForMaskedLM(ModernBertConfig(**{**common, "max_position_embeddings": 64},
                                                       global_attn_every_n_layers=1))
    model = peaked(model, model.get_output_embeddings())
    return unmask.wrap_model(model, Ids(mask=4, eos=2, pad=1), "masked_lm")


@pytest.fixture(scope="module", params=["llada", "dream", "bundled", "bert", "roberta", "modernbert"])
def family_model(request):
    if request.param in ("llada", "dream"):
        return unmask.load_model(FIXTURES / f"{request.param}-tiny")
    if request.param == "bundled":
        return unmask.load_model()
    return masked_lm(request.param)


@pytest.mark.parametrize("planner,options", [("confidence", {}), ("threshold", {"tau": 0.5})])
def test_a_row_equals_its_solo_decode(family_model, planner, options):
    kwargs = dict(planner=planner, gen_length=8, block_length=4, eos_early_stop=False, **options)
    batch = unmask.generate(family_model, PROMPTS, **kwargs)
    for row, prompt in enumerate(PROMPTS):
        alone = unmask.generate(family_model, [prompt], **kwargs)
        assert batch.tokens[row].tolist() == alone.tokens[0].tolist(), f"row {row} depends on the batch"
        assert int(batch.nfe[row]) == int(alone.nfe[0])


def one_layer(family: str):
    """A one-layer LLaDA-shaped (Llama) or Dream-shaped (Qwen2, GQA, shifted) model with peaked random weights."""
    shape = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                 max_position_embeddings=128, tie_word_embeddings=False, is_causal=False, eos_token_id=2,
                 pad_token_id=0)
    if family == "llada":
        model = LlamaForCausalLM(LlamaConfig(num_key_value_heads=4, **shape))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(num_key_value_heads=2, **shape))
    kind = "dream" if family == "dream" else "bidirectional_llama"  # native LLaDA is this adapter with LLaDA's ids
    return unmask.wrap_model(peaked(model, model.lm_head), Ids(mask=63, eos=2, pad=0), kind, mask_id=63)


@pytest.mark.parametrize("family", ["llada", "dream"])
@pytest.mark.parametrize("mode", ["prefix", "dual"])
@pytest.mark.parametrize("planner,options", PLANNERS)
def test_one_layer_cache_is_exact(family, mode, planner, options):
    model = one_layer(family)
    kwargs = dict(planner=planner, gen_length=16, block_length=8, eos_early_stop=False, **options)
    plain = unmask.generate(model, PROMPTS, **kwargs)
    cached = unmask.generate(model, PROMPTS, cache=mode, **kwargs)
    assert torch.equal(plain.tokens, cached.tokens)
    assert torch.equal(plain.nfe, cached.nfe)


@pytest.mark.parametrize("mode", ["prefix", "dual"])
def test_one_layer_cache_is_exact_from_an_empty_prompt(mode):
    """With no prompt, Dream's first position predicts itself: the cache must keep that alignment too."""
    model = one_layer("dream")
    kwargs = dict(planner="confidence", gen_length=16, block_length=8, eos_early_stop=False)
    plain = unmask.generate(model, [[]], **kwargs)
    assert torch.equal(plain.tokens, unmask.generate(model, [[]], cache=mode, **kwargs).tokens)


def test_the_shift_matters_under_the_cache():
    """Dream's adapter with its shift ignored by the cache would read the wrong outputs (so the test above can fail)."""
    model = one_layer("dream")
    kwargs = dict(planner="confidence", gen_length=16, block_length=8, eos_early_stop=False, cache="prefix")
    shifted = unmask.generate(model, PROMPTS, **kwargs)
    model.logit_shift = 0  # the instance now claims its outputs are aligned: forward still shifts, the cache not
    try:
        unshifted = unmask.generate(model, PROMPTS, **kwargs)
    finally:
        del model.logit_shift
    assert not torch.equal(shifted.tokens, unshifted.tokens)


@pytest.mark.parametrize("family", ["llada", "dream"])
@pytest.mark.parametrize("mode", ["prefix", "dual"])
@pytest.mark.parametrize("planner,options", PLANNERS)
def test_every_planner_runs_cached_on_the_official_layout(family, mode, planner, options):
    model = unmask.load_model(FIXTURES / f"{family}-tiny")
    kwargs = dict(planner=planner, gen_length=16, block_length=8, eos_early_stop=False, **options)
    plain = unmask.generate(model, PROMPTS, **kwargs)
    cached = unmask.generate(model, PROMPTS, cache=mode, **kwargs)
    assert not (cached.tokens == model.mask_id).any()
    if planner in ("dilated", "confidence"):
        assert torch.equal(plain.nfe, cached.nfe)


@pytest.mark.parametrize("family", ["bert", "roberta", "modernbert"])
def test_masked_lm_positions_are_the_models_own(family):
    """Unpadded, the adapter gives the model's own logits (RoBERTa counts positions from padding_idx + 1); padded,
    the real positions keep them."""
    model = masked_lm(family)
    ids = torch.tensor([[5, 9, 4, 4, 7, 12]])
    padded = torch.cat([torch.full((1, 3), 1), ids], 1)
    attention = torch.tensor([[0, 0, 0] + [1] * 6])
    with torch.inference_mode():
        own = model.model(input_ids=ids).logits
        assert torch.allclose(model(ids), own, atol=1e-5)
        assert torch.allclose(model(padded, attention)[:, 3:], own, atol=1e-4)
