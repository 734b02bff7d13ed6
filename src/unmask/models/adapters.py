"""Adapters for the model families unmask decodes.

- `MaskedLMDenoiser`: any `AutoModelForMaskedLM` (BERT, RoBERTa, ModernBERT), positions counted from each row's
  first real token (RoBERTa's from `padding_idx + 1`), so left padding changes nothing.
- `BidirectionalDenoiser`: a decoder-shaped transformer with full attention (transformers' Llama or Qwen2 with
  `is_causal=False`): LLaDA and the bundled model natively; takes a prefix / dual KV cache.
- `DreamDenoiser`: the same for Dream / DiffuCoder, whose output at position i-1 predicts token i (`logit_shift=1`).
- `RemoteLLaDADenoiser`, `RemoteDreamDenoiser`: the checkpoints' own remote code, where the installed transformers
  runs it (no cache; LLaDA's code ignores the attention mask, so its padded rows are not batch-invariant).
"""

from __future__ import annotations

import functools
import inspect

import torch

from unmask.models.base import Denoiser, positions_from_mask


class MaskedLMDenoiser(Denoiser):
    """A BERT-style masked LM: logits[:, i] already predicts position i.

    Position ids are always passed, counted from each row's first real token plus the model's position offset
    (RoBERTa-style embeddings reserve the ids up to `padding_idx`), so a row's logits do not depend on padding.
    """

    def forward(self, ids, attention_mask=None):
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask
        kwargs = {"attention_mask": mask} if attention_mask is not None else {}
        if self._absolute_positions:
            kwargs["position_ids"] = positions_from_mask(mask) + self._position_offset
        return self.model(input_ids=ids, **kwargs).logits

    @property
    def _absolute_positions(self) -> bool:
        return self._position_embeddings is not None

    @property
    def _position_embeddings(self):
        base = getattr(self.model, self.model.base_model_prefix, self.model)
        return getattr(getattr(base, "embeddings", None), "position_embeddings", None)

    @property
    def _position_offset(self) -> int:
        padding_idx = getattr(self._position_embeddings, "padding_idx", None)
        return 0 if padding_idx is None else padding_idx + 1


class BidirectionalDenoiser(Denoiser):
    """Full attention over the sequence, RoPE positions from the mask; logits shifted right by `logit_shift`."""

    supports_cache = True

    @property
    def supports_verification(self) -> bool:
        return self.logit_shift == 0

    def forward(self, ids, attention_mask=None):
        positions = None if attention_mask is None else positions_from_mask(attention_mask)
        logits = self.model(input_ids=ids, attention_mask=attention_mask, position_ids=positions).logits
        return shift_right(logits, self.logit_shift)

    def verified_block_logits(self, ids, attention_mask, columns):
        """K shadow positions appended after the sequence, one per block column: a mask token at that column's
        position that attends to every real token except the column's own (and to the other shadows); real tokens
        never attend to shadows, so their logits are those of a plain call. One forward of length L + K with a 4-D
        boolean attention mask (WINO's construction, Hong et al. 2025). Beyond the first layer the other positions
        still carry what they saw of the real token, so this approximates a re-run with the column masked; with one
        layer it equals it."""
        if self.logit_shift:
            raise NotImplementedError("verification needs logits aligned to their positions (logit_shift 0)")
        A, L = ids.shape
        K = columns.shape[1]
        keys = torch.ones_like(ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()  # (A, L)
        own = torch.zeros(A, K, L, dtype=torch.bool, device=ids.device).scatter_(2, columns[:, :, None], True)
        mask = torch.zeros(A, 1, L + K, L + K, dtype=torch.bool, device=ids.device)
        mask[:, 0, :, :L] = keys[:, None, :]
        mask[:, 0, L:, :L] &= ~own
        mask[:, 0, L:, L:] = True
        positions = torch.arange(L, device=ids.device).expand(A, L) if attention_mask is None else \
            positions_from_mask(attention_mask)
        shadow_ids = torch.full((A, K), self.mask_id, dtype=ids.dtype, device=ids.device)
        logits = self.model(input_ids=torch.cat([ids, shadow_ids], 1), attention_mask=mask,
                            position_ids=torch.cat([positions, positions.gather(1, columns)], 1)).logits
        block = logits[:, :L].gather(1, columns[:, :, None].expand(-1, -1, logits.shape[-1]))
        return block, logits[:, L:]

    def block_logits(self, ids, attention_mask, columns, shared):
        """With shared columns, the output layer runs on the positions that predict them only (`logits_to_keep`)."""
        if not shared:
            return super().block_logits(ids, attention_mask, columns, shared)
        positions = None if attention_mask is None else positions_from_mask(attention_mask)
        return self.model(input_ids=ids, attention_mask=attention_mask, position_ids=positions,
                          logits_to_keep=(columns[0] - self.logit_shift).clamp(min=0)).logits

    def cached_forward(self, ids, attention_mask, positions, past, keep=None):
        """A forward that reads (and, without `past`, returns) per-layer keys/values. Outputs are NOT shifted: the
        caller asks for the positions that predict the columns it needs (`CachedRunner` does).

        Args:
            ids: LongTensor (A, n), the fed tokens; positions: LongTensor (A, n), their position ids.
            attention_mask: LongTensor (A, past_len + n) in cache order then fed order, or None.
            past: list over layers of (keys, values), each (A, heads, past_len, head_dim); None for a full forward.
            keep: LongTensor of fed positions whose outputs to return (None: all).
        Returns:
            (logits (A, len(keep) or n, V), layers: [(keys, values)] of the full forward, or None when `past` given).
        """
        from transformers import DynamicCache

        config = self.model.config
        cache = DynamicCache(ddp_cache_data=past, config=config) if past else DynamicCache(config=config)
        out = self.model(input_ids=ids, attention_mask=attention_mask, position_ids=positions,
                         **{_cache_keyword(type(self.model)): cache}, use_cache=True,
                         logits_to_keep=0 if keep is None else keep.to(ids.device))
        layers = None if past else [(layer.keys, layer.values) for layer in cache.layers]
        return out.logits, layers


class DreamDenoiser(BidirectionalDenoiser):
    """Dream / DiffuCoder: the output at i-1 predicts token i."""

    logit_shift = 1


class RemoteLLaDADenoiser(Denoiser):
    """LLaDA through its own remote code: called with ids (its code ignores the attention mask and counts positions
    from the left edge of the batch, so left-padded rows depend on the batch)."""

    def forward(self, ids, attention_mask=None):
        if attention_mask is None:
            return self.model(ids).logits
        return self.model(ids, attention_mask=attention_mask).logits


class RemoteDreamDenoiser(Denoiser):
    """Dream / DiffuCoder through their own remote code, called the way `diffusion_generate` calls it."""

    logit_shift = 1

    def forward(self, ids, attention_mask=None):
        if attention_mask is None:
            logits = self.model(ids).logits
        else:  # Dream's own sampler passes a (B, 1, L, L) boolean mask and padding-aware positions
            pair_mask = attention_mask.bool()[:, None, None, :] & attention_mask.bool()[:, None, :, None]
            logits = self.model(ids, attention_mask=pair_mask, position_ids=positions_from_mask(attention_mask)).logits
        return shift_right(logits, 1)


@functools.cache
def _cache_keyword(model_class: type) -> str:
    """The forward's name for the KV cache: `cache` in current transformers, `past_key_values` before 5.2x (there an
    unknown `cache=` is swallowed by **kwargs and the cache silently stays empty). Read once per model class."""
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def shift_right(logits: torch.Tensor, shift: int) -> torch.Tensor:
    """Logits of position i taken from position i - shift (the first positions keep their own). (B, L, V) -> same."""
    if not shift:
        return logits
    return torch.cat([logits[:, :shift], logits[:, :-shift]], dim=1)
