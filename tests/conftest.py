"""Shared fixtures: tiny models built from configs (random weights), so tests need no download."""

from __future__ import annotations

import socket

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import unmask
from unmask.training.tokenizer import train_tokenizer

torch.set_num_threads(1)

CORPUS = [
    "Solve the sudoku:\n1003\n0300\n3210\n4132\nSolution:\n1423\n2341\n3214\n4132",
    "Use 15,44,79 to make 50.\nEquations:\n44-15=29,79-29=50",
    "Question: Tom has 9 apples. Tom buys 3 more. How many apples does Tom have now?\nAnswer:\n9+3=12\n#### 12",
]


@pytest.fixture
def free_port() -> str:
    """A TCP port nothing listens on now, for torchrun's rendezvous: a fixed one collides with other runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(CORPUS * 20, vocab_size=300)


def tiny_llama(vocab_size: int, seed: int = 0, peaky: float = 8.0, max_positions: int = 512) -> LlamaForCausalLM:
    """A 2-layer bidirectional Llama with random weights; `peaky` scales the output layer so confidences vary."""
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=max_positions,
                         tie_word_embeddings=False, eos_token_id=2, pad_token_id=0)
    config.is_causal = False
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(peaky)
    return model


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    """Denoiser around a tiny bidirectional Llama with a real tokenizer (mask 1, EOS 2, pad 0)."""
    return unmask.wrap_model(tiny_llama(len(tokenizer)), tokenizer, "bidirectional_llama")


class ScriptedDenoiser(unmask.Denoiser):
    """A fake model with hand-set answers: position j of the generated region predicts `script[row][j]` with
    confidence `conf[j]` (the rest of the mass spread evenly), whatever the input. Records every call's batch."""

    def __init__(self, script: list[list[int]], prompt_len: int, conf: list[float] | None = None, vocab: int = 50,
                 tokenizer=None, mask_id: int = 1, eos_id: int = 2, nan: bool = False):
        super().__init__(torch.nn.Linear(1, 1), tokenizer, mask_id=mask_id, eos_id=eos_id, pad_id=0)
        self.script, self.prompt_len, self.vocab, self.nan = script, prompt_len, vocab, nan
        self.conf = conf or [0.9 - 0.01 * j for j in range(len(script[0]))]
        self.calls: list[torch.Tensor] = []

    def forward(self, ids, attention_mask=None):
        self.calls.append(ids.clone())
        B, L = ids.shape
        probs = torch.full((B, L, self.vocab), 1e-3)
        for b in range(B):
            row = self._row_of(ids[b])
            for j, token in enumerate(self.script[row]):
                pos = L - len(self.script[row]) + j
                probs[b, pos] = (1 - self.conf[j]) / (self.vocab - 1)
                probs[b, pos, token] = self.conf[j]
        logits = probs.log()
        return logits * float("nan") if self.nan else logits

    def _row_of(self, ids: torch.Tensor) -> int:
        """Which scripted row this is: the prompt's first real token names it (prompts are [10 + row, ...])."""
        first = ids[ids != self.pad_id][0].item()
        return int(first) - 10
