"""Adapters for the model families unmask decodes.

- `MaskedLMDenoiser`: any `AutoModelForMaskedLM` (BERT, RoBERTa, ModernBERT).
- `BidirectionalLlamaDenoiser`: a Llama-family model with `config.is_causal = False` (the shape of LLaDA; the
  bundled model), with position ids that ignore left padding.
- `LLaDADenoiser`: LLaDA checkpoints (remote code): mask 126336, EOS 126081, end-of-turn 126348.
- `DreamDenoiser`: Dream / DiffuCoder checkpoints (remote code): mask 151666; the model predicts token i at
  position i-1, so logits are shifted right by one position.
"""

from __future__ import annotations

import torch

from unmask.models.base import Denoiser, positions_from_mask

LLADA_MASK_ID, LLADA_EOS_ID, LLADA_EOT_ID = 126336, 126081, 126348
DREAM_MASK_ID = 151666


class MaskedLMDenoiser(Denoiser):
    """A BERT-style masked LM: logits[:, i] already predicts position i."""

    def forward(self, ids, attention_mask=None):
        kwargs = {}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
            if getattr(self.model.config, "position_embedding_type", "absolute") == "absolute":
                kwargs["position_ids"] = positions_from_mask(attention_mask)
        return self.model(input_ids=ids, **kwargs).logits


class BidirectionalLlamaDenoiser(Denoiser):
    """A Llama-family model with `is_causal=False`: full attention over the sequence, RoPE positions from the mask."""

    supports_cache = True

    def forward(self, ids, attention_mask=None):
        positions = None if attention_mask is None else positions_from_mask(attention_mask)
        return self.model(input_ids=ids, attention_mask=attention_mask, position_ids=positions).logits

    def block_logits(self, ids, attention_mask, columns, shared):
        """With shared columns, the output layer runs on those positions only (`logits_to_keep`)."""
        if not shared:
            return super().block_logits(ids, attention_mask, columns, shared)
        positions = None if attention_mask is None else positions_from_mask(attention_mask)
        return self.model(input_ids=ids, attention_mask=attention_mask, position_ids=positions,
                          logits_to_keep=columns[0]).logits

    def cached_forward(self, ids, attention_mask, positions, past, keep=None):
        """A forward that reads (and, without `past`, returns) per-layer keys/values.

        Args:
            ids: LongTensor (A, n), the fed tokens; positions: LongTensor (A, n), their position ids.
            attention_mask: LongTensor (A, past_len + n) in cache order then fed order, or None.
            past: list over layers of (keys, values), each (A, heads, past_len, head_dim); None for a full forward.
            keep: LongTensor of fed positions whose logits to return (None: all).
        Returns:
            (logits (A, len(keep) or n, V), layers: [(keys, values)] of the full forward, or None when `past` given).
        """
        from transformers import DynamicCache

        cache = DynamicCache(ddp_cache_data=past, config=self.model.config) if past else DynamicCache(config=self.model.config)
        out = self.model(input_ids=ids, attention_mask=attention_mask, position_ids=positions, cache=cache,
                         use_cache=True, logits_to_keep=0 if keep is None else keep.to(ids.device))
        layers = None if past else [(layer.keys, layer.values) for layer in cache.layers]
        return out.logits, layers


class LLaDADenoiser(Denoiser):
    """LLaDA remote-code model: called with ids (and the attention mask when there is padding)."""

    def forward(self, ids, attention_mask=None):
        if attention_mask is None:
            return self.model(ids).logits
        return self.model(ids, attention_mask=attention_mask).logits


class DreamDenoiser(Denoiser):
    """Dream / DiffuCoder remote-code model: its output at i-1 predicts token i, so shift logits right by one."""

    def forward(self, ids, attention_mask=None):
        if attention_mask is None:
            logits = self.model(ids).logits
        else:  # Dream's own sampler passes a (B, 1, L, L) boolean mask and padding-aware positions
            pair_mask = attention_mask.bool()[:, None, None, :] & attention_mask.bool()[:, None, :, None]
            logits = self.model(ids, attention_mask=pair_mask, position_ids=positions_from_mask(attention_mask)).logits
        return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)  # (B, L, V)
