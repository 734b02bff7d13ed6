"""The denoiser seam: one call of a masked diffusion LM, with each model family's quirks kept inside its adapter.

A denoiser maps token ids (B, L) to logits (B, L, V) such that `logits[:, i]` predicts the token at position i.
It knows its mask id, its end-of-sequence ids, its tokenizer and the longest sequence it accepts.
"""

from __future__ import annotations

import torch


class Denoiser:
    """Base adapter around a Hugging Face model.

    Attributes:
        model: the wrapped `torch.nn.Module`.
        tokenizer: its tokenizer, or None.
        mask_id: id of the mask token.
        eos_id: id of the end-of-sequence token.
        stop_ids: ids that end a row when committed (eos_id first; LLaDA adds its end-of-turn token).
        pad_id: id used for left padding (never equal to mask_id).
        max_length: longest sequence (prompt + generation) the model accepts, or None when unbounded.
        supports_cache: whether `forward` accepts a KV cache (`cache="prefix"`/`"dual"`).
        logit_shift: 1 when the model's output at position i-1 predicts token i (Dream), else 0; `forward` and
            `block_logits` already return logits aligned to the positions they predict.
        supports_verification: whether `verified_block_logits` works (the planners that revise commits, WINO, need it).
    """

    supports_cache = False
    logit_shift = 0
    supports_verification = False

    def __init__(self, model, tokenizer, mask_id: int, eos_id: int, pad_id: int | None = None,
                 stop_ids: tuple[int, ...] = (), max_length: int | None = None):
        if mask_id is None:
            raise ValueError("no mask token id: the tokenizer has no mask token; pass mask_id=... to load_model")
        pad_id = eos_id if pad_id is None else pad_id
        if pad_id == mask_id:
            raise ValueError(
                f"pad id {pad_id} equals the mask id: padding would read as masks; give the tokenizer a distinct "
                f"pad token (tokenizer.pad_token = tokenizer.eos_token)"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.mask_id = int(mask_id)
        self.eos_id = int(eos_id) if eos_id is not None else None
        self.pad_id = int(pad_id) if pad_id is not None else None
        self.stop_ids = tuple(dict.fromkeys(([self.eos_id] if self.eos_id is not None else []) + list(stop_ids)))
        self.max_length = max_length

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for every position.

        Args:
            ids: LongTensor (B, L).
            attention_mask: LongTensor (B, L), 0 on left padding; None when there is no padding.
        Returns:
            FloatTensor (B, L, V).
        """
        raise NotImplementedError

    def __call__(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        return self.forward(ids, attention_mask, **kwargs)

    def block_logits(self, ids: torch.Tensor, attention_mask: torch.Tensor | None, columns: torch.Tensor,
                     shared: bool) -> torch.Tensor:
        """Logits of some columns only (the decode loop needs the current block's).

        Args:
            ids: LongTensor (A, L); columns: LongTensor (A, K) of positions < L;
            shared: True when every row asks for the same columns (adapters may then skip the other positions).
        Returns:
            FloatTensor (A, K, V).
        """
        full = self(ids, attention_mask)  # (A, L, V)
        return full.gather(1, columns[:, :, None].expand(-1, -1, full.shape[-1]))

    def verified_block_logits(self, ids: torch.Tensor, attention_mask: torch.Tensor | None,
                              columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`block_logits` plus, in the same model call, each block column predicted with its own token hidden (WINO's
        verification: how much the rest of the sequence supports what was committed there).

        Args:
            ids: LongTensor (A, L); attention_mask: LongTensor (A, L) or None; columns: LongTensor (A, K) of positions < L.
        Returns:
            (block, hidden_self): FloatTensors (A, K, V).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot predict a position with its own token hidden")


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (left padding gets 0). (B, L) -> (B, L)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
