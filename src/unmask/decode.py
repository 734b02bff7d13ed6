"""The decode loop: one loop for every masked diffusion LM and every planner.

    ids = prompt + [MASK] * G
    for each block, left to right:            (each row moves on to its next block as soon as its block is full)
        while the block has masks:
            logits   = denoiser(ids)           one model call (NFE) for every unfinished row
            proposal = propose(logits)         argmax, or Gumbel-max sampling
            reveal   = planner.select(state)   which masked positions of the block to commit now
            ids      = commit(ids, proposal, reveal)

The loop, not the planners, holds the invariants: a selection stays inside the masked positions of the current
block; each unfinished row reveals at least one position per call; a block is complete when its scheduled calls
end; prompt tokens never change. Rows are independent: each has its own block, step and sampling stream, and a row
that is finished (all revealed, or EOS / stop string reached) costs no further model calls.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from unmask.cache import CachedRunner
from unmask.config import DecodeConfig
from unmask.models.base import Denoiser, positions_from_mask
from unmask.planners import Planner, get_planner
from unmask.step import answer_text, decode_step, needs_generators, row_generators, row_memories, stop_positions


@dataclass(frozen=True)
class StepEvent:
    """What `on_step` receives after each model call.

    Attributes:
        call: 1-based index of this batched model call within the `generate` call.
        rows: LongTensor (A,), the rows that took part in the call.
        tokens: LongTensor (B, G), the generated region so far (`mask_id` where still masked).
        revealed: BoolTensor (B, G), positions committed by this call (EOS fill of finished rows included).
        finished: BoolTensor (B,), rows that need no more calls.
        mask_id: the mask token id.
        remasked: BoolTensor (B, G), committed positions this call returned to the mask (revising planners only).
    """

    call: int
    rows: torch.Tensor
    tokens: torch.Tensor
    revealed: torch.Tensor
    finished: torch.Tensor
    mask_id: int
    remasked: torch.Tensor | None = None


@dataclass(frozen=True)
class DecodeResult:
    """The outcome of `generate`.

    Attributes:
        tokens: LongTensor (B, G), generated tokens only (EOS-filled after an early stop).
        texts: decoded answers, cut at the first end-of-sequence token and at the first stop string.
        nfe: LongTensor (B,), model calls spent on each row.
        reveal_step: LongTensor (B, G), the row's call (1-based) at which each position was committed (its final
            commit, when a revising planner re-masked it before).
        seconds: wall time of the whole decode.
        config: the DecodeConfig that produced it.
        remasks: LongTensor (B, G), how often each position was re-masked (zeros but for revising planners).
    """

    tokens: torch.Tensor
    texts: list[str]
    nfe: torch.Tensor
    reveal_step: torch.Tensor
    seconds: float
    config: DecodeConfig
    remasks: torch.Tensor | None = None

    @property
    def calls(self) -> int:
        """Batched model calls made (the maximum NFE over rows)."""
        return int(self.nfe.max()) if self.nfe.numel() else 0


def generate(model: Denoiser, prompts, *, planner: str | Planner = "dilated", gen_length: int = 128,
             block_length: int = 32, temperature: float = 0.0, top_p: float | None = None, top_k: int | None = None,
             cfg_scale: float = 0.0, eos_early_stop: bool = True, stop: str | Sequence[str] | None = None,
             seed: int | None = None, on_step: Callable[[StepEvent], None] | None = None, cache: str = "none",
             **options) -> DecodeResult:
    """Decode `prompts` with `model`, revealing the answer in the order the planner chooses.

    Args:
        model: a denoiser (`unmask.load_model(...)`).
        prompts: a string, a list of strings, a list of token-id lists, or a LongTensor (B, P).
        planner: a registered planner name (`unmask.available_planners()`) or a Planner instance.
        gen_length, block_length, temperature, top_p, top_k, cfg_scale, eos_early_stop, stop, seed, cache:
            see `DecodeConfig`.
        on_step: called with a `StepEvent` after each model call (streaming, visualisation).
        **options: planner options, e.g. `base=2` for `dilated`, `tau=0.9` for `threshold`.
    Returns:
        DecodeResult with tokens (B, G), texts, nfe (B,), reveal_step (B, G) and seconds.
    """
    planner_name = planner.name if isinstance(planner, Planner) else planner
    config = DecodeConfig(planner=planner_name, planner_options=options, gen_length=gen_length,
                          block_length=block_length, temperature=temperature, top_p=top_p, top_k=top_k,
                          cfg_scale=cfg_scale, eos_early_stop=eos_early_stop, stop=tuple(stop or ()), seed=seed,
                          cache=cache)
    return decode(model, prompts, config, planner=planner if isinstance(planner, Planner) else None, on_step=on_step)


def decode(model: Denoiser, prompts, config: DecodeConfig, planner: Planner | None = None,
           on_step: Callable[[StepEvent], None] | None = None) -> DecodeResult:
    """`generate` with a ready DecodeConfig (what the evaluation harness calls)."""
    planner = planner or get_planner(config.planner, **config.planner_options)
    if on_step is not None and not callable(on_step):
        raise ValueError(f"on_step must be a function taking a StepEvent, got {on_step!r}")
    rows = encode_prompts(model, prompts)
    check_request(model, config, planner, rows)
    runner = CachedRunner(model, config.cache) if config.cache != "none" else None
    return _Decoder(model, config, planner, rows, on_step, runner).run()


def encode_prompts(model: Denoiser, prompts) -> list[list[int]]:
    """Normalise the accepted prompt forms to a list of token-id lists, and check them before any model call: at
    least one prompt, integer ids only (a float tensor is not truncated), every id inside the model's vocabulary."""
    if isinstance(prompts, torch.Tensor):
        if prompts.dim() != 2:
            raise ValueError(f"a prompt tensor must be (B, P), got shape {tuple(prompts.shape)}")
        if prompts.dtype.is_floating_point or prompts.dtype.is_complex or prompts.dtype == torch.bool:
            raise ValueError(f"prompts: a prompt tensor must hold integer token ids, got dtype {prompts.dtype}: pass "
                             f"a LongTensor (B, P) of ids from the model's tokenizer")
        if len(prompts) == 0:
            raise ValueError(f"prompts: the prompt tensor has no rows (shape {tuple(prompts.shape)}): pass at least "
                             f"one prompt")
        rows = prompts.tolist()
    else:
        if isinstance(prompts, str):
            prompts = [prompts]
        if not isinstance(prompts, (list, tuple)):
            raise ValueError(f"prompts must be a string, a list of strings, a list of token-id lists or a LongTensor "
                             f"(B, P), got a {type(prompts).__name__}")
        if not prompts:
            raise ValueError("no prompts: pass a string, a list of strings or a list of token-id lists")
        if all(isinstance(p, str) for p in prompts):
            if model.tokenizer is None:
                raise ValueError("string prompts need a tokenizer: load the model with one, or pass token ids")
            for row, text in enumerate(prompts):
                _check_text(text, row)
            rows = [model.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        else:
            rows = [_id_list(p, i) for i, p in enumerate(prompts)]
    _check_vocabulary(rows, vocab_size(model))
    return rows


def _check_text(text: str, row: int) -> None:
    """A prompt string must be encodable (lone surrogates, e.g. from undecodable bytes, are not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"prompts[{row}] is not valid Unicode text (a lone surrogate at character {err.start}): "
                         f"decode its bytes with errors='replace'") from None


def _id_list(prompt, row: int) -> list[int]:
    """One prompt given as token ids, as a list of ints; a ValueError naming the row and element otherwise."""
    if not isinstance(prompt, (list, tuple)):
        raise ValueError(f"prompts must all be strings, or all be lists of token ids: prompts[{row}] is a "
                         f"{type(prompt).__name__}")
    for j, token in enumerate(prompt):
        if isinstance(token, bool) or not isinstance(token, numbers.Integral):
            raise ValueError(f"prompts[{row}][{j}] is {token!r} (a {type(token).__name__}): token ids must be ints")
    return [int(t) for t in prompt]


def _check_vocabulary(rows: list[list[int]], vocab: int | None) -> None:
    """Every id in [0, vocab) (only >= 0 when the vocabulary size is unknown)."""
    for row, ids in enumerate(rows):
        bad = [t for t in ids if t < 0 or (vocab is not None and t >= vocab)]
        if bad:
            limits = f"the model's vocabulary [0, {vocab})" if vocab is not None else "the vocabulary (ids are >= 0)"
            raise ValueError(f"prompts[{row}] holds token id {bad[0]}, outside {limits}: pass ids from this model's "
                             f"tokenizer")


def check_request(model: Denoiser, config: DecodeConfig, planner: Planner, prompt_ids: list[list[int]]) -> None:
    """Raise ValueError, naming the fix, when `config` cannot run these prompts on `model`: a budget the planner
    cannot spend, stop strings without a tokenizer, a cache the adapter lacks, a prompt too long for the model or
    holding the mask token. Before any model call; shared by `decode` and the serving engine."""
    planner.check(config.num_blocks, config.block_lengths())
    if planner.verifies and not model.supports_verification:
        raise ValueError(f"planner {planner.name!r} predicts committed positions with their own token hidden, which "
                         f"{type(model).__name__} cannot do: use a LLaDA-style model (the bundled model, LLaDA) or "
                         f"another planner")
    if planner.revises and config.cache != "none":
        raise ValueError(f"planner {planner.name!r} re-masks committed tokens, which a KV cache would keep stale: "
                         f"use cache='none'")
    if planner.verifies and config.cfg_scale > 0:
        raise ValueError(f"planner {planner.name!r} does not combine with classifier-free guidance: use cfg_scale=0")
    if config.stop and model.tokenizer is None:
        raise ValueError("stop strings need the model's tokenizer to read the text: load the model with one")
    if config.cache != "none" and not model.supports_cache:
        raise ValueError(f"cache={config.cache!r}: this model's adapter takes no KV cache; use cache='none'")
    longest = max(len(p) for p in prompt_ids)
    if model.max_length is not None and longest + config.gen_length > model.max_length:
        raise ValueError(_too_long(longest, config.gen_length, model.max_length, len(prompt_ids)))
    if any(model.mask_id in p for p in prompt_ids):
        raise ValueError(f"a prompt contains the mask token id {model.mask_id}: remove it from the prompt")


def vocab_size(model: Denoiser) -> int | None:
    """Token ids the model accepts: rows of its input embedding, else `config.vocab_size`, else the tokenizer's
    length; None when none of them is known."""
    try:
        return int(model.model.get_input_embeddings().num_embeddings)
    except (AttributeError, NotImplementedError):
        pass
    size = getattr(getattr(model.model, "config", None), "vocab_size", None)
    if isinstance(size, int) and size > 0:
        return size
    return len(model.tokenizer) if model.tokenizer is not None else None


def _too_long(prompt: int, gen_length: int, limit: int, rows: int) -> str:
    """The fix for a prompt (the longest of `rows`) that leaves too little room for `gen_length` positions."""
    which = "the longest prompt" if rows > 1 else "the prompt"
    if prompt >= limit:
        fix = f"shorten it to at most {limit - gen_length} tokens" if limit > gen_length else \
            f"shorten it and lower gen_length below {limit}"
        return (f"{which} alone ({prompt} tokens) reaches the model's maximum of {limit} positions, leaving none "
                f"for gen_length ({gen_length}): {fix}")
    return (f"{which} ({prompt} tokens) + gen_length ({gen_length}) = {prompt + gen_length} exceeds the model's "
            f"maximum of {limit} positions: {limit - prompt} generated tokens fit after it, so lower gen_length to "
            f"at most {limit - prompt}, or shorten the prompt by {prompt + gen_length - limit} tokens")


class _Decoder:
    """State of one `decode` call. Shapes: B rows, P padded prompt length, G generated, K block length, V vocab."""

    def __init__(self, model: Denoiser, config: DecodeConfig, planner: Planner, prompt_ids: list[list[int]],
                 on_step, runner):
        self.model, self.config, self.planner, self.on_step, self.runner = model, config, planner, on_step, runner
        self.prompt_lens = [len(p) for p in prompt_ids]
        self.P, self.G, self.K = max(self.prompt_lens), config.gen_length, config.block_length
        total = self.P + self.G
        device = model.device
        B = len(prompt_ids)
        # K scratch columns after the sequence take the padding columns of a short last block; never fed to the model
        self.x = torch.full((B, total + self.K), model.mask_id, dtype=torch.long)
        self.x[:, total:] = model.pad_id
        self.attention = torch.zeros(B, total, dtype=torch.long)
        for row, ids in enumerate(prompt_ids):
            self.x[row, : self.P - len(ids)] = model.pad_id
            self.x[row, self.P - len(ids) : self.P] = torch.tensor(ids, dtype=torch.long)
            self.attention[row, self.P - len(ids) :] = 1
        self.padded = bool((self.attention == 0).any())
        self.x, self.attention = self.x.to(device), self.attention.to(device)
        self.tokens = torch.full((B, self.G), model.mask_id, dtype=torch.long)  # host copy of the generated region
        self.lengths = torch.tensor(config.block_lengths())  # (num_blocks,)
        self.block_steps = torch.tensor([  # (num_blocks,) calls each block is scheduled for; 0 = adaptive
            planner.steps_for(n, b, config.num_blocks) or 0 for b, n in enumerate(config.block_lengths())
        ])
        self.block_index = torch.zeros(B, dtype=torch.long)
        self.step = torch.zeros(B, dtype=torch.long)
        self.nfe = torch.zeros(B, dtype=torch.long)
        self.finished = torch.zeros(B, dtype=torch.bool)
        self.reveal_step = torch.zeros(B, self.G, dtype=torch.long)
        self.remasks = torch.zeros(B, self.G, dtype=torch.long)
        self.stop_ids = torch.tensor(model.stop_ids or [-1])
        self.generators = row_generators(config.seed, B) if needs_generators(planner, config.temperature) else None
        self.memory = row_memories(planner, B)  # (B,) the planner's per-row memory
        self.calls = 0

    def run(self) -> DecodeResult:
        began = time.perf_counter()
        with torch.inference_mode():
            while not bool(self.finished.all()):
                self._call()
        tokens = self.tokens
        texts = [self._text(row) for row in tokens.tolist()]
        return DecodeResult(tokens, texts, self.nfe.clone(), self.reveal_step, time.perf_counter() - began, self.config,
                            self.remasks)

    def _call(self) -> None:
        """One model call for every unfinished row, then commit, with one device-to-host transfer."""
        device = self.x.device
        active = (~self.finished).nonzero().squeeze(-1)  # (A,) host bookkeeping
        block_index, step = self.block_index[active], self.step[active]
        block_len = self.lengths[block_index]  # (A,)
        columns = self.P + block_index[:, None] * self.K + torch.arange(self.K)  # (A, K), short blocks reach scratch
        valid = torch.arange(self.K)[None, :] < block_len[:, None]  # (A, K)
        rows_d, columns_d = active.to(device), columns.to(device)

        logits, verify, bad = self._block_logits(rows_d, block_index, columns_d, step)  # (A, K, V) x2, NaN flag (1,)
        self.calls += 1
        self.nfe[active] += 1
        generators = [self.generators[i] for i in active.tolist()] if self.generators else None
        out = decode_step(self.planner, logits, self.x[rows_d[:, None], columns_d], valid.to(device), step=step,
                          block_index=block_index, block_len=block_len, scheduled=self.block_steps[block_index],
                          num_blocks=self.config.num_blocks, mask_id=self.model.mask_id,
                          temperature=self.config.temperature, top_k=self.config.top_k, top_p=self.config.top_p,
                          generators=generators, memory=[self.memory[i] for i in active.tolist()],
                          verify_logits=verify)
        self.x[rows_d[:, None], columns_d] = out.block

        packed = torch.cat([out.eligible.long(), out.selected.long(), out.remasked.long(),
                            self.x[rows_d, self.P : self.P + self.G], bad.long().expand(len(active), 1)],
                           1).cpu()  # the call's one synchronisation
        if bool(packed[0, -1]):
            raise FloatingPointError(
                "the model returned NaN logits: load it in a wider dtype (dtype=torch.float32) or check the weights"
            )
        eligible, selected = packed[:, : self.K].bool(), packed[:, self.K : 2 * self.K].bool()
        remasked = packed[:, 2 * self.K : 3 * self.K].bool()
        self.tokens[active] = packed[:, 3 * self.K : -1]
        revealed, unrevealed = self._in_region(active, columns, selected), self._in_region(active, columns, remasked)
        self.reveal_step[revealed] = self.nfe[:, None].expand_as(revealed)[revealed]
        self.reveal_step[unrevealed] = 0
        self.remasks += unrevealed.long()
        self._advance(active, (eligible & ~selected) | remasked)
        self._early_stop(active, revealed)
        if self.on_step is not None:
            self.on_step(StepEvent(self.calls, active, self.tokens.clone(), revealed, self.finished.clone(),
                                   self.model.mask_id, unrevealed))

    def _in_region(self, active, columns, chosen) -> torch.Tensor:
        """The block positions `chosen` (A, K) of the active rows as a BoolTensor (B, G) over the generated region."""
        region = torch.zeros(len(self.x), self.G + self.K, dtype=torch.bool)
        region[active[:, None].expand_as(columns)[chosen], (columns - self.P)[chosen]] = True
        return region[:, : self.G]

    def _block_logits(self, active, block_index, columns, step):
        """One model call for the active rows. Returns their current block's logits (A, K, V), the block predicted
        with each position's own token hidden (A, K, V) for a verifying planner (else None), and whether any were NaN
        (a BoolTensor (1,) left on the device, read with the call's one transfer)."""
        ids = self.x[active, : self.attention.shape[1]]
        attention = self.attention[active] if self.padded else None
        if self.planner.verifies:
            logits, verify = self.model.verified_block_logits(ids, attention, columns.clamp(max=ids.shape[1] - 1))
            return logits.float(), verify.float(), torch.isnan(logits).any().view(1)
        slots = active.cpu()
        if self.config.cfg_scale > 0:  # the unconditional rows mask the real prompt tokens; both run in one call
            unconditional = ids.clone()
            prompt = torch.zeros_like(ids, dtype=torch.bool)
            prompt[:, : self.P] = True
            if attention is not None:
                prompt &= attention.bool()
            unconditional[prompt] = self.model.mask_id
            ids = torch.cat([ids, unconditional])
            attention = None if attention is None else attention.repeat(2, 1)
            block_index, columns, step = block_index.repeat(2), columns.repeat(2, 1), step.repeat(2)
            slots = torch.cat([slots, slots + len(self.x)])
        logits = self._forward(ids, attention, block_index, columns, step, slots)  # (A or 2A, K, V)
        if self.config.cfg_scale > 0:
            cond, uncond = logits.chunk(2)
            logits = uncond + (self.config.cfg_scale + 1) * (cond - uncond)
        bad = torch.isnan(logits).any().view(1)
        return logits.float(), None, bad

    def _forward(self, ids, attention, block_index, columns, step, slots) -> torch.Tensor:
        """Logits of the block columns, (A, K, V): a full forward, or cached calls grouped by block."""
        if self.runner is None:
            inside = columns.clamp(max=ids.shape[1] - 1)  # scratch columns read any logits; they are never eligible
            shared = torch.unique(block_index).numel() == 1  # host check: every row is in the same block
            return self.model.block_logits(ids, attention, inside, shared)
        positions = positions_from_mask(attention) if attention is not None else \
            torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        out = None
        for block in block_index.unique().tolist():
            group = block_index == block  # host (A,)
            on_device = group.to(ids.device)
            start = self.P + block * self.K
            end = start + int(self.lengths[block])
            logits = self.runner(ids[on_device], None if attention is None else attention[on_device],
                                 positions[on_device], slots[group], start, end, step[group], self.K)
            if out is None:
                out = logits.new_empty(len(ids), self.K, logits.shape[-1])
            out[on_device] = logits
        return out

    def _advance(self, active, still_masked) -> None:
        """Step counters; a row whose block is full moves to its next block (or finishes after the last)."""
        done = ~still_masked.any(-1)  # (A,)
        self.step[active] = torch.where(done, 0, self.step[active] + 1)
        self.block_index[active] += done.long()
        self.finished[active] |= self.block_index[active] >= self.config.num_blocks
        if self.planner.memory_per_block:
            for row in active[done].tolist():
                self.memory[row] = self.planner.new_memory()

    def _early_stop(self, active, revealed) -> None:
        """Finish rows that committed EOS (or a stop string) with everything before it revealed; fill with EOS.
        Works on the host copy of the tokens; the fill is written to the device too."""
        if not (self.config.eos_early_stop or self.config.stop):
            return
        rows = active[~self.finished[active]]
        if not len(rows):
            return
        gen = self.tokens[rows]  # (R, G)
        masked = gen == self.model.mask_id
        ends = stop_positions(gen, self.model.mask_id, self.stop_ids if self.config.eos_early_stop else None,
                              self.config.stop, self.model.tokenizer)  # (R,) the position that ends each row, G if none
        positions = torch.arange(self.G)
        stopping = ends < self.G
        if not bool(stopping.any()):
            return
        fill = masked & (positions[None, :] > ends[:, None]) & stopping[:, None]  # (R, G)
        stopped = rows[stopping]
        self.tokens[rows] = torch.where(fill, self.model.eos_id, gen)
        self.x[stopped.to(self.x.device), self.P : self.P + self.G] = self.tokens[stopped].to(self.x.device)
        revealed[rows] |= fill
        self.reveal_step[rows] = torch.where(fill, self.nfe[rows, None], self.reveal_step[rows])
        self.finished[stopped] = True

    def _text(self, tokens: list[int]) -> str:
        return answer_text(self.model.tokenizer, tokens, self.model.mask_id, self.model.stop_ids, self.config.stop)
