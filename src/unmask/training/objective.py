"""The LLaDA / MDLM supervised fine-tuning objective.

The prompt is kept. Each answer token (EOS padding included) is masked with probability t ~ U(eps, 1), one t per
example; the loss is the cross-entropy on masked positions weighted by 1/t, averaged over answer tokens
(Nie et al. 2025, "Large Language Diffusion Models", eq. 5; Sahoo et al. 2024, MDLM). `weighting="flat"` drops the
1/t factor and averages the cross-entropy over the masked positions instead (BERT-style), a lower-variance estimate
that no longer bounds the likelihood.

`block_length` B > 0 trains half the examples (each with probability 1/2) in the states semi-autoregressive
decoding with block length B meets: one block of the answer is drawn uniformly, the blocks before it are shown, its
positions are masked with probability t, and every position after it is masked (weighted as t = 1). Uniform masking
alone rarely shows a partly revealed block followed by a fully masked rest (probability t^k (1-t)^j).
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


def sample_masks(answer: torch.Tensor, generator: torch.Generator, eps: float = 1e-3,
                 block_length: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Which answer positions to mask, and each position's mask rate.

    Args:
        answer: (B, L) bool, the answer positions (EOS padding included).
        block_length: 0 for uniform masking; B > 0 puts each example in a block-by-block state with probability 1/2.

    Returns:
        (masked, rate): (B, L) bool and (B, L) float: t, or 1.0 where a block-by-block state masks the rest.
    """
    t = eps + (1 - eps) * torch.rand(answer.shape[0], 1, generator=generator)  # (B, 1)
    masked = answer & (torch.rand(answer.shape, generator=generator) < t)  # (B, L)
    rate = t.expand(answer.shape)
    if block_length:
        block_of = torch.div(answer.cumsum(-1) - 1, block_length, rounding_mode="floor")  # (B, L) block index
        blocks = (answer.sum(-1, keepdim=True) + block_length - 1) // block_length  # (B, 1)
        current = (torch.rand(blocks.shape, generator=generator) * blocks).long()  # (B, 1) uniform in [0, blocks)
        chosen = torch.rand(blocks.shape, generator=generator) < 0.5  # (B, 1)
        shown, rest = answer & chosen & (block_of < current), answer & chosen & (block_of > current)
        masked = (masked & ~shown) | rest
        rate = torch.where(rest, torch.ones_like(rate), rate)
    return masked, rate


def masked_diffusion_loss(model, batch: Batch, mask_id: int, generator: torch.Generator, eps: float = 1e-3,
                          weighting: str = "inverse_t", block_length: int = 0):
    """Loss and masked-token accuracy of one batch.

    Args:
        weighting: "inverse_t" (LLaDA's eq. 5) or "flat" (mean cross-entropy over the masked positions).
        block_length: > 0 adds block-by-block states (module docstring); 0 is LLaDA's uniform masking.

    Returns:
        (loss, accuracy): loss a scalar tensor with grad; accuracy a float over the masked positions.
    """
    ids, answer = batch.input_ids, batch.answer_mask  # (B, L)
    masked, rate = sample_masks(answer.cpu(), generator, eps, block_length)  # (B, L), (B, L), drawn on the CPU
    masked, rate = masked.to(ids.device), rate.to(ids.device)
    logits = masked_logits(model, batch, masked, mask_id)  # (B, L, V)
    token_loss = F.cross_entropy(logits[masked].float(), ids[masked], reduction="none")  # (N,)
    if weighting == "inverse_t":
        loss = (token_loss / rate[masked]).sum() / answer.sum().clamp(min=1)
    elif weighting == "flat":
        loss = token_loss.sum() / masked.sum().clamp(min=1)
    else:
        raise ValueError(f"unknown loss weighting {weighting!r}: choose from {', '.join(WEIGHTINGS)}")
    accuracy = (logits[masked].argmax(-1) == ids[masked]).float().mean().item() if masked.any() else 0.0
    return loss, accuracy
