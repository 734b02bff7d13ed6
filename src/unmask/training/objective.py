"""The LLaDA / MDLM supervised fine-tuning objective.

The prompt is kept. Each answer token (EOS padding included) is masked with probability t ~ U(eps, 1), one t per
example; the loss is the cross-entropy on masked positions weighted by 1/t, averaged over answer tokens
(Nie et al. 2025, "Large Language Diffusion Models", eq. 5; Sahoo et al. 2024, MDLM). `weighting="flat"` drops the
1/t factor and averages the cross-entropy over the masked positions instead (BERT-style), a lower-variance estimate
that no longer bounds the likelihood.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unmask.training.data import Batch


WEIGHTINGS = ("inverse_t", "flat")


def masked_logits(model, batch: Batch, masked: torch.Tensor, mask_id: int) -> torch.Tensor:
    """Logits (B, L, V) of the model reading the batch with the positions in `masked` (B, L) replaced by mask_id."""
    noisy = torch.where(masked, torch.full_like(batch.input_ids, mask_id), batch.input_ids)
    positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)  # (B, L): left padding does not shift RoPE
    return model(input_ids=noisy, attention_mask=batch.attention_mask, position_ids=positions).logits


def masked_diffusion_loss(model, batch: Batch, mask_id: int, generator: torch.Generator, eps: float = 1e-3,
                          weighting: str = "inverse_t"):
    """Loss and masked-token accuracy of one batch.

    Args:
        weighting: "inverse_t" (LLaDA's eq. 5) or "flat" (mean cross-entropy over the masked positions).

    Returns:
        (loss, accuracy): loss a scalar tensor with grad; accuracy a float over the masked positions.
    """
    ids, answer = batch.input_ids, batch.answer_mask  # (B, L)
    t = eps + (1 - eps) * torch.rand(ids.shape[0], 1, generator=generator)  # (B, 1)
    masked = answer & (torch.rand(ids.shape, generator=generator) < t)  # (B, L)
    logits = masked_logits(model, batch, masked, mask_id)  # (B, L, V)
    token_loss = F.cross_entropy(logits[masked].float(), ids[masked], reduction="none")  # (N,)
    if weighting == "inverse_t":
        loss = (token_loss / t.expand_as(ids)[masked]).sum() / answer.sum().clamp(min=1)
    elif weighting == "flat":
        loss = token_loss.sum() / masked.sum().clamp(min=1)
    else:
        raise ValueError(f"unknown loss weighting {weighting!r}: choose from {', '.join(WEIGHTINGS)}")
    accuracy = (logits[masked].argmax(-1) == ids[masked]).float().mean().item() if masked.any() else 0.0
    return loss, accuracy
