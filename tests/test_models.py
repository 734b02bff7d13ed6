"""Denoiser adapters and loading: each family's quirks, chosen from the config, tested on tiny stand-ins."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast, LlamaConfig

import unmask
from unmask.models import detect_kind
from unmask.models.adapters import DREAM_MASK_ID, LLADA_EOS_ID, LLADA_EOT_ID, LLADA_MASK_ID
from conftest import tiny_llama


def test_kind_is_detected_from_the_config():
    bidirectional = LlamaConfig(architectures=["LlamaForCausalLM"])
    bidirectional.is_causal = False
    assert detect_kind(bidirectional) == "bidirectional_llama"
    assert detect_kind(LlamaConfig(architectures=["LlamaForCausalLM"])) == "masked_lm"
    assert detect_kind(BertConfig()) == "masked_lm"

    class Remote:
        def __init__(self, model_type):
            self.model_type = model_type

    assert detect_kind(Remote("llada")) == "llada"
    assert detect_kind(Remote("Dream")) == "dream"


def test_dream_logits_are_shifted_right_by_one():
    model = tiny_llama(64)
    dream = unmask.wrap_model(model, None, "dream")
    assert dream.mask_id == DREAM_MASK_ID
    ids = torch.randint(3, 64, (2, 9))
    raw = model(input_ids=ids).logits
    shifted = dream(ids)
    assert torch.equal(shifted[:, 0], raw[:, 0])
    assert torch.equal(shifted[:, 1:], raw[:, :-1])


def test_dream_padding_uses_a_pairwise_mask_and_positions():
    model = tiny_llama(64)
    dream = unmask.wrap_model(model, None, "dream")
    ids = torch.randint(3, 64, (1, 7))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], 1)
    attention = torch.tensor([[0, 0, 0] + [1] * 7])
    alone = dream(ids)
    with_pad = dream(padded, attention)
    assert torch.allclose(with_pad[:, 4:], alone[:, 1:], atol=1e-5)


def test_llada_ids_and_end_of_turn_stop():
    llada = unmask.wrap_model(tiny_llama(64), None, "llada")
    assert (llada.mask_id, llada.eos_id) == (LLADA_MASK_ID, LLADA_EOS_ID)
    assert LLADA_EOT_ID in llada.stop_ids


def test_masked_lm_takes_its_mask_from_the_tokenizer(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghij") + ["1", "2", "3"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tokenizer = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    torch.manual_seed(0)
    bert = BertForMaskedLM(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)).eval()
    model = unmask.wrap_model(bert, tokenizer, "masked_lm")
    assert model.mask_id == tokenizer.mask_token_id and model.eos_id == tokenizer.sep_token_id
    result = unmask.generate(model, ["a b c", "d"], planner="dilated", gen_length=8, block_length=4,
                             eos_early_stop=False)
    assert not (result.tokens == model.mask_id).any() and result.nfe.tolist() == [4, 4]


def test_load_model_picks_the_adapter_and_guards_remote_code(tmp_path, tokenizer):
    path = tmp_path / "llama"
    model = tiny_llama(len(tokenizer))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    loaded = unmask.load_model(path)
    assert type(loaded).__name__ == "BidirectionalLlamaDenoiser"
    assert loaded.mask_id == tokenizer.mask_token_id and loaded.max_length == 512

    remote = tmp_path / "llada"
    remote.mkdir()
    (remote / "config.json").write_text(json.dumps({"model_type": "llada", "auto_map": {"AutoModel": "x.Y"}}))
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        unmask.load_model(remote)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        unmask.load_model(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown model kind"):
        unmask.load_model(path, kind="gpt")
