"""Denoiser adapters and loading: each family's quirks, chosen from the config, and every broken model directory
reported by file and field before any weights are read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast, LlamaConfig

import unmask
from unmask.models import detect_kind, dream, llada
from conftest import tiny_llama

FIXTURES = Path(__file__).parent / "fixtures" / "official"


def test_kind_is_detected_from_the_config():
    bidirectional = LlamaConfig(architectures=["LlamaForCausalLM"])
    bidirectional.is_causal = False
    assert detect_kind(bidirectional) == "bidirectional_llama"
    assert detect_kind(LlamaConfig(architectures=["LlamaForCausalLM"])) == "masked_lm"
    assert detect_kind(BertConfig()) == "masked_lm"
    assert detect_kind({"model_type": "llada"}) == "llada"
    assert detect_kind({"architectures": ["LLaDAModelLM"]}) == "llada"
    assert detect_kind({"model_type": "Dream"}) == "dream"
    assert detect_kind({"architectures": ["DreamModel"], "model_type": "dream"}) == "dream"


def test_dream_logits_are_shifted_right_by_one():
    model = tiny_llama(64)
    shifted_model = unmask.wrap_model(model, None, "dream")
    assert shifted_model.mask_id == dream.MASK_ID
    ids = torch.randint(3, 64, (2, 9))
    raw = model(input_ids=ids).logits
    shifted = shifted_model(ids)
    assert torch.equal(shifted[:, 0], raw[:, 0])
    assert torch.equal(shifted[:, 1:], raw[:, :-1])


@pytest.mark.parametrize("kind", ["dream", "dream_remote"])
def test_dream_padding_leaves_a_row_unchanged(kind):
    adapter = unmask.wrap_model(tiny_llama(64), None, kind)
    ids = torch.randint(3, 64, (1, 7))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], 1)
    attention = torch.tensor([[0, 0, 0] + [1] * 7])
    assert torch.allclose(adapter(padded, attention)[:, 4:], adapter(ids)[:, 1:], atol=1e-5)


def test_llada_ids_and_end_of_turn_stop():
    model = unmask.wrap_model(tiny_llama(64), None, "llada")
    assert (model.mask_id, model.eos_id) == (llada.MASK_ID, llada.EOS_ID)
    assert llada.EOT_ID in model.stop_ids


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
    assert type(loaded).__name__ == "BidirectionalDenoiser"
    assert loaded.mask_id == tokenizer.mask_token_id and loaded.max_length == 512
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        unmask.load_model(FIXTURES / "llada-tiny", kind="llada_remote")
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        unmask.load_model(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown model kind"):
        unmask.load_model(path, kind="gpt")


@pytest.fixture()
def llada_copy(tmp_path) -> Path:
    target = tmp_path / "llada"
    shutil.copytree(FIXTURES / "llada-tiny", target)
    return target


def edit_config(path: Path, **fields) -> None:
    config = json.loads((path / "config.json").read_text())
    config.update(fields)
    (path / "config.json").write_text(json.dumps(config))


BROKEN_DIRECTORIES = {  # name: (how the directory is broken, error type, what the message must name)
    "corrupt config.json": (lambda p: (p / "config.json").write_text('{"d_model": 8,\n'), ValueError,
                            r"config\.json is not valid JSON: .* line 2"),
    "config.json not UTF-8": (lambda p: (p / "config.json").write_bytes(b"\xff\xfe{}"), ValueError, "not UTF-8"),
    "truncated weights": (lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:5000]),
                          ValueError, r"model\.safetensors is truncated"),
    "weights file cut inside its data": (
        lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:-100]),
        ValueError, r"model\.safetensors is truncated: its tensors need"),
    "no weights": (lambda p: (p / "model.safetensors").unlink(), FileNotFoundError, "no weights in"),
    "unsupported LLaDA field": (lambda p: edit_config(p, scale_logits=True), ValueError, "scale_logits=True"),
    "inconsistent LLaDA config": (lambda p: edit_config(p, n_heads=3), ValueError, "d_model=8 is not divisible by n_heads=3"),
    "LLaDA config lacks a field": (lambda p: edit_config(p, d_model=None), ValueError, "lacks integer field.*d_model"),
    "LLaDA2 / MoE": (lambda p: edit_config(p, architectures=["LLaDA2MoeModelLM"], model_type="llada2_moe"), ValueError,
                     "LLaDA2MoeModelLM is not supported.*LLaDA2Pipeline"),
    "a tensor missing": (lambda p: _drop_tensor(p, "model.transformer.blocks.1.ff_out.weight"), ValueError,
                         r"lack 1 tensor.*model\.layers\.1\.mlp\.down_proj\.weight"),
}


def _drop_tensor(path: Path, name: str) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(str(path / "model.safetensors"))
    del weights[name]
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})


@pytest.mark.parametrize("broken", list(BROKEN_DIRECTORIES))
def test_a_broken_model_directory_names_the_file_and_problem(llada_copy, broken):
    breaks, error, message = BROKEN_DIRECTORIES[broken]
    breaks(llada_copy)
    with pytest.raises(error, match=message):
        unmask.load_model(llada_copy)


@pytest.mark.parametrize("argument,value,message", [("dtype", "bogus", "unknown dtype 'bogus'"),
                                                     ("device", "tpu9", "device 'tpu9'")])
def test_bad_dtype_or_device_fails_before_loading(argument, value, message):
    with pytest.raises(ValueError, match=message):
        unmask.load_model(FIXTURES / "no-such-dir", **{argument: value})


REMOTE_CODE = '''
from transformers import PretrainedConfig, PreTrainedModel

class BrokenConfig(PretrainedConfig):
    model_type = "llada"

class BrokenModel(PreTrainedModel):
    config_class = BrokenConfig

    def __init__(self, config):
        super().__init__(config)

    def forward(self, ids):
        raise AttributeError("'LLaDAConfig' object has no attribute 'use_cache'")
'''


def test_remote_code_that_breaks_points_to_native_loading(llada_copy):
    (llada_copy / "modeling_broken.py").write_text(REMOTE_CODE)
    edit_config(llada_copy, auto_map={"AutoConfig": "modeling_broken.BrokenConfig", "AutoModel": "modeling_broken.BrokenModel"})
    with pytest.raises(RuntimeError, match=r"own modelling code does not run on transformers .*AttributeError.*load it "
                                           r"natively instead.*kind='llada'"):
        unmask.load_model(llada_copy, kind="llada_remote", trust_remote_code=True)
    assert type(unmask.load_model(llada_copy, trust_remote_code=True).model).__name__ == "LlamaForCausalLM"


def test_dream_custom_tokenizer_loads_natively_without_asking(tmp_path):
    """Dream ships `DreamTokenizer` as remote code; natively it is Qwen2's BPE read from vocab.json / merges.txt."""
    target = tmp_path / "dream"
    shutil.copytree(FIXTURES / "dream-tiny", target)
    (target / "tokenizer.json").unlink()
    (target / "vocab.json").write_text(json.dumps({**{chr(c): c - 31 for c in range(33, 127)}, "Ġ": 1}))
    (target / "merges.txt").write_text("#version: 0.2\n")
    special = {"content": "<|mask|>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
               "special": True}
    (target / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "DreamTokenizer", "auto_map": {"AutoTokenizer": ["tokenization_dream.DreamTokenizer", None]},
        "added_tokens_decoder": {"151666": special}, "mask_token": "<|mask|>", "eos_token": "<|mask|>"}))
    model = unmask.load_model(target)
    assert type(model.tokenizer).__name__ == "Qwen2Tokenizer"
    assert model.tokenizer("ab c")["input_ids"] == [66, 67, 1, 68]
    assert (model.mask_id, model.eos_id) == (dream.MASK_ID, dream.EOS_ID)  # the family's ids come from its config


def test_other_custom_tokenizer_code_is_refused_without_trust(llada_copy):
    (llada_copy / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["x.Y", None]}}))
    with pytest.raises(ValueError, match=r"custom code \(\['x.Y', None\]\): pass trust_remote_code=True"):
        unmask.load_model(llada_copy)
