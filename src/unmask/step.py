"""One decode step, shared by every loop that decodes: `unmask.generate`, the serving engine and the diffusers
scheduler.

    logits -> filter (top-k, top-p) -> planner.adjust_logits -> propose -> StepState -> planner.select
           -> enforce_invariants -> commit [-> planner.revise -> bound_remasks -> re-mask]

A step sees the current block of A rows (padded to K positions) and the logits of those positions; it returns the
block after the commit and what was revealed. Which rows take part, where their blocks are and when they finish is
the caller's business, and so is keeping each row's planner memory (`row_memories`; a fresh one per block when the
planner's `memory_per_block`). Also here: what ends a row early (EOS, stop strings) and the text of an answer, so
that every loop finishes rows and cuts text the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from unmask import scoring
from unmask.planners.base import Planner, StepState, bound_remasks, enforce_invariants


@dataclass(frozen=True)
class StepOutput:
    """The outcome of one step on A rows of block width K.

    Attributes:
        block: LongTensor (A, K), the block after the commit.
        selected: BoolTensor (A, K), positions committed now (a subset of `eligible`).
        eligible: BoolTensor (A, K), positions that were masked and inside the block before the step.
        state: the StepState the planner saw (its `logits` are the filtered ones, its `proposal` the candidates).
        remasked: BoolTensor (A, K), committed positions a revising planner returned to the mask (all False for
            the others).
    """

    block: torch.Tensor
    selected: torch.Tensor
    eligible: torch.Tensor
    state: StepState
    remasked: torch.Tensor


def decode_step(planner: Planner, logits: torch.Tensor, current: torch.Tensor, valid: torch.Tensor, *,
                step: torch.Tensor, block_index: torch.Tensor, block_len: torch.Tensor, scheduled: torch.Tensor,
                num_blocks: int, mask_id: int, temperature: float = 0.0, top_k: int | None = None,
                top_p: float | None = None, generators: list[torch.Generator] | None = None,
                memory: list | None = None, verify_logits: torch.Tensor | None = None) -> StepOutput:
    """Commit the planner's choice of positions in the current block of each row.

    Args:
        planner: chooses the positions (`select`) and ranks a forced reveal (`fallback_scores`).
        logits: FloatTensor (A, K, V), the block positions' logits from one model call.
        current: LongTensor (A, K), the block's tokens, `mask_id` where still masked.
        valid: BoolTensor (A, K), positions inside the block (False on the padding of a short block).
        step, block_index, block_len: LongTensor (A,) on the host, see `StepState`.
        scheduled: LongTensor (A,) on the host, calls the row's block is scheduled for (0: adaptive).
        num_blocks: blocks in the whole generation.
        temperature, top_k, top_p: the proposal, see `DecodeConfig`.
        generators: one CPU generator per row when `needs_generators(planner, temperature)`, else None.
        memory: the rows' planner memories (`row_memories`), updated in place by the planner; None for none.
        verify_logits: FloatTensor (A, K, V), the block positions predicted with their own token hidden (from the
            same model call), for planners that declare `verifies`.
    Returns:
        StepOutput with the block after the commit and any re-mask (A, K), the selection and the re-masks (A, K).
    """
    eligible = (current == mask_id) & valid
    logits = planner.adjust_logits(scoring.filter_logits(logits, top_k, top_p), eligible, memory)  # (A, K, V)
    proposal = scoring.propose_unmasked(logits, mask_id, temperature, generators)  # (A, K)
    state = StepState(step=step, block_index=block_index, block_len=block_len, eligible=eligible, logits=logits,
                      proposal=proposal, num_blocks=num_blocks, generators=generators, memory=memory,
                      current=current, committed=valid & ~eligible, verify_logits=verify_logits)
    selected = enforce_invariants(planner.select(state) & eligible, state, scheduled, planner.fallback_scores(state))
    block = torch.where(selected, proposal, current)
    remasked = torch.zeros_like(selected)
    if planner.revises:
        remasked = bound_remasks(planner.revise(state, selected), state, selected)
        block = block.masked_fill(remasked, mask_id)
    return StepOutput(block, selected, eligible, state, remasked)


def row_memories(planner: Planner, rows: int) -> list:
    """A fresh planner memory for each of `rows` rows (a list of None for planners that remember nothing)."""
    return [planner.new_memory() for _ in range(rows)]


def needs_generators(planner: Planner, temperature: float) -> bool:
    """Whether a decode needs per-row random streams: sampling (temperature > 0) or a planner that draws."""
    return temperature > 0 or planner.needs_rng


def row_generators(seed: int | None, rows: int) -> list[torch.Generator]:
    """One CPU generator per row, derived from `seed` and the row index (a fresh random seed when None), so a row's
    stream never depends on the other rows of its batch."""
    base = int(torch.randint(0, 2**62, (1,)).item()) if seed is None else int(seed)
    return [torch.Generator().manual_seed((base * 1_000_003 + row) % 2**63)
            for row in range(rows)]


def stop_positions(gen: torch.Tensor, mask_id: int, stop_ids: torch.Tensor | None, stop: Sequence[str],
                   tokenizer) -> torch.Tensor:
    """Where each row may end early: the first committed stop token (EOS) or the token that completes a stop
    string in the revealed prefix, provided every position before it is revealed.

    Args:
        gen: LongTensor (R, G) on the host, the generated region (`mask_id` where masked).
        stop_ids: LongTensor of end-of-sequence ids, or None when EOS does not end rows.
        stop: stop strings (need `tokenizer`).
    Returns:
        LongTensor (R,): the ending position, or G for rows that go on.
    """
    G = gen.shape[1]
    masked = gen == mask_id
    ends = torch.full((len(gen),), G, dtype=torch.long)
    if stop_ids is not None:
        is_stop = torch.isin(gen, stop_ids) & ~masked
        ends = torch.where(is_stop.any(-1), is_stop.float().argmax(-1), ends)
    if stop:
        ends = torch.minimum(ends, _stop_string_ends(gen, masked, stop, tokenizer))
    positions = torch.arange(G)
    clear_before = ~(masked & (positions[None, :] < ends[:, None])).any(-1)
    return torch.where(clear_before, ends, G)


def _stop_string_ends(gen: torch.Tensor, masked: torch.Tensor, stop: Sequence[str], tokenizer) -> torch.Tensor:
    """Per row, the position of the token that completes a stop string in the revealed prefix (G if none)."""
    ends = torch.full((len(gen),), gen.shape[1], dtype=torch.long)
    for i, (row, mask_row) in enumerate(zip(gen.tolist(), masked.tolist())):
        prefix = row[: mask_row.index(True)] if True in mask_row else row
        text = tokenizer.decode(prefix)
        hits = [text.find(s) + len(s) for s in stop if s in text]
        if hits:
            cut = min(hits)
            for n in range(1, len(prefix) + 1):  # shortest token prefix whose text reaches the stop string
                if len(tokenizer.decode(prefix[:n])) >= cut:
                    ends[i] = n - 1
                    break
    return ends


def answer_text(tokenizer, tokens: list[int], mask_id: int, stop_ids: Sequence[int], stop: Sequence[str]) -> str:
    """The text of a generated region: cut at the first end-of-sequence token, masks and special tokens dropped,
    cut before the first stop string."""
    if tokenizer is None:
        return ""
    for i, token in enumerate(tokens):
        if token in stop_ids:
            tokens = tokens[:i]
            break
    text = tokenizer.decode([t for t in tokens if t != mask_id], skip_special_tokens=True)
    for s in stop:
        text = text.split(s, 1)[0]
    return text
