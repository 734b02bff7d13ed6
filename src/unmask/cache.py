"""Approximate KV caching for block decoding (Fast-dLLM, Wu et al. 2025).

- `prefix`: at a row's block start, one full forward computes every position and keeps the keys/values of the
  prefix (prompt and earlier blocks); the block's later calls feed only the block and what follows it.
- `dual`: the same full forward also keeps the keys/values after the block; later calls feed only the block.

The first call of each block is the uncached call, exactly. Later calls reuse keys/values computed before the
block's own tokens changed: that is the approximation, and what makes them cheap.

Models whose output at i-1 predicts token i (Dream, `logit_shift = 1`) need the outputs of [s-1, e-1) for a block
[s, e): their fed window starts one position earlier, and the prefix they reuse ends there.

Keys/values are stored per row, so rows at different blocks (adaptive planners) are grouped by block and each
group runs its own forward; NFE per row is unchanged. The unconditional rows of classifier-free guidance are
stored under their own slots.
"""

from __future__ import annotations

import torch

from unmask.models.base import Denoiser


class CachedRunner:
    """Runs block calls with a prefix or dual KV cache for a model whose adapter supports it.

    Args:
        model: a denoiser with `supports_cache` (its `cached_forward` takes a transformers Cache).
        mode: "prefix" or "dual".
    """

    def __init__(self, model: Denoiser, mode: str):
        self.model, self.mode = model, mode
        self.keys: list[torch.Tensor] | None = None  # per layer: (slots, heads, L, head_dim)
        self.values: list[torch.Tensor] | None = None

    def __call__(self, ids, attention, positions, slots, block_start, block_end, step, width) -> torch.Tensor:
        """Logits of the block positions for rows that all share one block.

        Args:
            ids: LongTensor (A, L); attention: LongTensor (A, L) or None; positions: LongTensor (A, L).
            slots: LongTensor (A,), storage slot of each row; block_start, block_end: the block's columns [s, e).
            step: LongTensor (A,), each row's call index within the block (0 = block start: full forward).
            width: K, the number of block columns to return (the block is padded to it).
        Returns:
            FloatTensor (A, K, V).
        """
        out = None
        fresh = step == 0  # host (A,)
        for part, is_fresh in ((fresh, True), (~fresh, False)):
            if not bool(part.any()):
                continue
            on_device = part.to(ids.device)
            logits = (self._full if is_fresh else self._cached)(
                ids[on_device], None if attention is None else attention[on_device], positions[on_device],
                slots[part], block_start, block_end)
            logits = _pad_columns(logits, width)
            if out is None:
                out = logits.new_empty(len(ids), width, logits.shape[-1])
            out[on_device] = logits
        return out

    def _predictors(self, s: int, e: int) -> torch.Tensor:
        """Positions whose outputs predict the block's columns [s, e) (a first position predicts itself)."""
        shift = self.model.logit_shift
        return torch.arange(s - shift, e - shift).clamp(min=0)

    def _full(self, ids, attention, positions, slots, s, e) -> torch.Tensor:
        logits, layers = self.model.cached_forward(ids, attention, positions, None, keep=self._predictors(s, e))
        if self.keys is None:
            self.keys = [None] * len(layers)
            self.values = [None] * len(layers)
        for i, (k, v) in enumerate(layers):
            if self.keys[i] is None:
                self.keys[i], self.values[i] = k.new_zeros(0, *k.shape[1:]), v.new_zeros(0, *v.shape[1:])
            self.keys[i] = _store(self.keys[i], slots, k)
            self.values[i] = _store(self.values[i], slots, v)
        return logits

    def _cached(self, ids, attention, positions, slots, s, e) -> torch.Tensor:
        keep = self._predictors(s, e)
        f = int(keep[0])  # the first fed position: its output predicts the block's first column
        if self.mode == "prefix":
            fed = slice(f, ids.shape[1])
            past = [(k[slots, :, :f], v[slots, :, :f]) for k, v in zip(self.keys, self.values)]
            mask = attention
        else:
            fed = slice(f, e)
            past = [(torch.cat([k[slots, :, :f], k[slots, :, e:]], 2), torch.cat([v[slots, :, :f], v[slots, :, e:]], 2))
                    for k, v in zip(self.keys, self.values)]
            mask = None if attention is None else torch.cat([attention[:, :f], attention[:, e:], attention[:, f:e]], 1)
        logits, _ = self.model.cached_forward(ids[:, fed], mask, positions[:, fed], past, keep=keep - f)
        return logits


def _store(bank: torch.Tensor, slots: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Write `rows` (n, ...) into `bank` at `slots`, growing the bank when a slot is past its end."""
    need = int(slots.max()) + 1
    if bank.shape[0] < need:
        bank = torch.cat([bank, bank.new_zeros(need - bank.shape[0], *bank.shape[1:])])
    bank[slots] = rows
    return bank


def _pad_columns(logits: torch.Tensor, width: int) -> torch.Tensor:
    """(A, n, V) -> (A, width, V), repeating the last column (padding columns are never eligible)."""
    if logits.shape[1] == width:
        return logits
    return torch.cat([logits, logits[:, -1:].expand(-1, width - logits.shape[1], -1)], 1)

