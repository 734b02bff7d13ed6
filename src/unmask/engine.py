"""Continuous batching: requests join the running batch at the next model call and leave it when finished.

    engine = Engine(model, EngineLimits(max_rows=32))
    engine.start()                                        # a background thread makes the model calls
    handle = engine.submit(prompt_ids, DecodeConfig(planner="dilated", gen_length=64, block_length=32))
    completion = handle.result()                          # tokens equal unmask.generate on this request alone

Each request is a row with its own prompt, gen_length, block length, planner, sampling options and seed. Every model
call takes up to `max_rows` rows: their sequences are left-padded to the longest and run in one forward (rows with a
KV cache run in groups that share a layout instead), then each group of rows with the same planner and sampling
options takes one `step.decode_step`. A row leaves when its blocks are full, when it commits EOS or a stop string
(with everything before it revealed), when it is cancelled, or when its deadline passes; a queued request takes its
place at the next call. Rows never depend on each other: a row's random stream is its own (`row_generators(seed, 1)`,
the stream `generate` gives a request decoded alone), so its tokens and NFE equal `generate` for it alone.

A failed model call (an exception such as out-of-memory) fails the requests of that call and the engine goes on; a
row whose logits are NaN fails alone.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from unmask.cache import CachedRunner
from unmask.config import DecodeConfig
from unmask.decode import check_request, encode_prompts
from unmask.models.base import Denoiser
from unmask.planners import Planner, get_planner
from unmask.step import answer_text, decode_step, needs_generators, row_generators, row_memories, stop_positions


@dataclass(frozen=True)
class EngineLimits:
    """Admission limits.

    Attributes:
        max_rows: most rows in one model call (the batch size under load).
        max_queued: most requests waiting for a row; `submit` refuses more with `EngineBusy`.
        timeout_s: a request still unfinished this many seconds after `submit` fails with `RequestFailed`
            (status 504); None is no limit.
        call_overhead: a forward's fixed cost counted in token positions. Rows of very different lengths run in
            separate forwards when that saves more padded positions than it adds overhead (`length_buckets`);
            None: 64 on CPU (compute-bound: padding costs in proportion), 4096 on an accelerator (one forward).
    """

    max_rows: int = 32
    max_queued: int = 256
    timeout_s: float | None = 300.0
    call_overhead: int | None = None

    def __post_init__(self):
        for name in ("max_rows", "max_queued"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}: e.g. {name}=32")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds (None: no limit), got {self.timeout_s!r}")
        if self.call_overhead is not None and (not isinstance(self.call_overhead, int) or self.call_overhead < 0):
            raise ValueError(f"call_overhead must be an integer >= 0 or None, got {self.call_overhead!r}")


class EngineBusy(Exception):
    """The queue is full: retry after `retry_after` seconds."""

    def __init__(self, queued: int, retry_after: int):
        super().__init__(f"{queued} requests are already queued: retry after {retry_after} s")
        self.retry_after = retry_after


class RequestFailed(Exception):
    """A request ended without a result. `status` is the HTTP status that fits (499 cancelled, 500 model error,
    503 engine stopped, 504 timeout)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RowEvent:
    """What a request's listener receives after each model call it took part in.

    Attributes:
        nfe: model calls spent on the request so far.
        tokens: LongTensor (G,), the generated region (`mask_id` where still masked; EOS-filled after an early stop).
        revealed: LongTensor (n,), positions of the generated region committed by this call (EOS fill included).
        finished: True on the request's last event (then `Handle.result()` returns or raises at once).
        remasked: LongTensor (m,), positions this call returned to the mask (revising planners only).
    """

    nfe: int
    tokens: torch.Tensor
    revealed: torch.Tensor
    finished: bool
    remasked: torch.Tensor | None = None


@dataclass(frozen=True)
class Completion:
    """A finished request.

    Attributes:
        tokens: LongTensor (G,), generated tokens (EOS-filled after an early stop), as `DecodeResult.tokens[0]`.
        text: the answer, as `DecodeResult.texts[0]`.
        nfe: model calls spent on the request.
        reveal_step: LongTensor (G,), the request's call (1-based) at which each position was committed.
        finish_reason: "stop" (EOS or a stop string ended it) or "length".
        prompt_tokens: prompt length in tokens.
        completion_tokens: generated tokens before the end of the answer.
        seconds: from `submit` to the end.
    """

    tokens: torch.Tensor
    text: str
    nfe: int
    reveal_step: torch.Tensor
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class Handle:
    """A submitted request: wait for it (`result`), or `cancel` it (its row is freed before the next model call)."""

    def __init__(self, listener: Callable[[RowEvent], None] | None):
        self.listener = listener
        self.cancelled = False
        self._done = threading.Event()
        self._completion: Completion | None = None
        self._error: RequestFailed | None = None

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> Completion:
        """Block until the request ends; raise RequestFailed when it failed, TimeoutError after `timeout`."""
        if not self._done.wait(timeout):
            raise TimeoutError("the request is still running")
        if self._error is not None:
            raise self._error
        return self._completion

    def _finish(self, completion: Completion | None, error: RequestFailed | None) -> None:
        self._completion, self._error = completion, error
        self._done.set()


@dataclass
class _Row:
    """One request's decoding state. Shapes: P prompt, G generated, K block length (all host tensors)."""

    handle: Handle
    config: DecodeConfig
    planner: Planner
    prompt_len: int
    ids: torch.Tensor  # (P + G,)
    generators: list[torch.Generator] | None
    submitted: float
    deadline: float | None
    block: int = 0
    step: int = 0
    nfe: int = 0
    slot: int = -1
    reveal_step: torch.Tensor = field(default=None)  # (G,)
    memory: object = None  # the planner's memory for this row (`Planner.new_memory`)

    @property
    def gen(self) -> torch.Tensor:
        return self.ids[self.prompt_len:]

    def block_span(self) -> tuple[int, int]:
        """Columns [start, end) of the current block in the row's own sequence."""
        start = self.prompt_len + self.block * self.config.block_length
        return start, min(start + self.config.block_length, len(self.ids))


class Engine:
    """Decodes many requests at once, admitting new ones between model calls.

    Args:
        model: the denoiser every request runs on.
        limits: admission limits.
        on_call: called after each model call with (rows, seconds) (metrics).
    """

    def __init__(self, model: Denoiser, limits: EngineLimits | None = None,
                 on_call: Callable[[int, float], None] | None = None):
        self.model, self.limits, self.on_call = model, limits or EngineLimits(), on_call
        self._queue: deque[_Row] = deque()
        self._running: list[_Row] = []
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._runners = {mode: CachedRunner(model, mode) for mode in ("prefix", "dual")} if model.supports_cache else {}
        self._free_slots = list(range(self.limits.max_rows))
        self._call_overhead = self.limits.call_overhead if self.limits.call_overhead is not None else \
            64 if model.device.type == "cpu" else 4096
        self.calls = 0

    # ---- admission ----------------------------------------------------------------------------------------------

    def check(self, prompt_ids: list[int], config: DecodeConfig, planner: Planner | None = None) -> Planner:
        """Raise ValueError, naming the fix, when the request cannot run (the checks `decode` makes: token ids,
        planner budget, model length, ...); return its planner. No model call."""
        planner = planner or get_planner(config.planner, **config.planner_options)
        check_request(self.model, config, planner, encode_prompts(self.model, [list(prompt_ids)]))
        return planner

    def submit(self, prompt_ids: list[int], config: DecodeConfig, planner: Planner | None = None,
               listener: Callable[[RowEvent], None] | None = None) -> Handle:
        """Queue a request; it joins the batch at the next model call with a free row.

        Args:
            prompt_ids: the prompt's token ids.
            config: how to decode it (its planner, gen_length, block_length, sampling, seed, stop, cache).
            planner: a ready planner instance (default: built from `config`).
            listener: called from the engine's thread with a `RowEvent` after each of the request's model calls.
        Raises:
            ValueError: the request cannot run (before anything is queued).
            EngineBusy: `max_queued` requests are already waiting.
        """
        planner = self.check(prompt_ids, config, planner)
        handle = Handle(listener)
        now = time.monotonic()
        ids = torch.tensor(list(prompt_ids) + [self.model.mask_id] * config.gen_length, dtype=torch.long)
        generators = row_generators(config.seed, 1) if needs_generators(planner, config.temperature) else None
        row = _Row(handle, config, planner, len(prompt_ids), ids, generators, now,
                   None if self.limits.timeout_s is None else now + self.limits.timeout_s,
                   reveal_step=torch.zeros(config.gen_length, dtype=torch.long), memory=row_memories(planner, 1)[0])
        with self._lock:
            if self._stopping:
                raise RequestFailed(503, "the engine is shutting down")
            if len(self._queue) >= self.limits.max_queued:
                raise EngineBusy(len(self._queue), retry_after=max(1, round(self._retry_after())))
            self._queue.append(row)
            self._lock.notify()
        return handle

    def _retry_after(self) -> float:
        """A rough wait before a queue slot frees: the queue's share of the running rows' remaining work."""
        return 1 + len(self._queue) / max(1, self.limits.max_rows)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def running(self) -> int:
        return len(self._running)

    # ---- the thread ---------------------------------------------------------------------------------------------

    def start(self) -> Engine:
        """Run model calls on a background thread until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="unmask-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread; requests still queued or running fail with 503."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join()
        for row in list(self._queue) + self._running:
            self._fail(row, RequestFailed(503, "the engine stopped before the request finished"))
        self._queue.clear()
        self._running.clear()

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and not self._queue and not self._running:
                    self._lock.wait()
                if self._stopping:
                    return
            try:
                self.step()
            except Exception as error:  # noqa: BLE001 (a bug in one call must not stop the server)
                failure = RequestFailed(500, f"decoding failed ({type(error).__name__}: {error})")
                for row in list(self._running):
                    self._leave(row, error=failure)

    # ---- one model call -----------------------------------------------------------------------------------------

    def step(self) -> bool:
        """Admit and drop rows, then one model call for every running row. Returns False when there was nothing to
        do. (The background thread calls this; call it directly only without `start`.)"""
        self._admit()
        rows = list(self._running)
        if not rows:
            return False
        began = time.perf_counter()
        with torch.inference_mode():
            try:
                logits, verify = self._logits(rows)  # (A, Kmax, V) each; verify None when no row verifies
            except Exception as error:  # noqa: BLE001 (any model failure fails this call's requests only)
                failure = RequestFailed(500, f"the model call failed ({type(error).__name__}: {error}); the server "
                                             f"goes on with other requests")
                for row in rows:
                    self._leave(row, error=failure)
                return True
            self.calls += 1
            bad = torch.isnan(logits).flatten(1).any(-1).cpu()  # (A,)
            for row, is_bad in zip(rows, bad.tolist()):
                row.nfe += 1
                if is_bad:
                    self._leave(row, error=RequestFailed(
                        500, "the model returned NaN logits: load it in a wider dtype (--dtype float32) or check "
                             "the weights"))
            good = ~bad.to(logits.device)
            self._commit([r for r, b in zip(rows, bad.tolist()) if not b], logits[good].float(),
                         None if verify is None else verify[good].float())
        if self.on_call is not None:
            self.on_call(len(rows), time.perf_counter() - began)
        return True

    def _admit(self) -> None:
        """Drop cancelled and timed-out rows (running or queued), then fill free rows from the queue, in order."""
        now = time.monotonic()
        for row in list(self._running):
            reason = self._ended(row, now)
            if reason is not None:
                self._leave(row, error=reason)
        with self._lock:
            waiting = list(self._queue)
            self._queue.clear()
        keep = deque()
        for row in waiting:
            reason = self._ended(row, now)
            if reason is not None:
                self._fail(row, reason)
            elif len(self._running) < self.limits.max_rows:
                if row.config.cache != "none":
                    row.slot = self._free_slots.pop(0)
                self._running.append(row)
            else:
                keep.append(row)
        with self._lock:
            self._queue.extendleft(reversed(keep))

    @staticmethod
    def _ended(row: _Row, now: float) -> RequestFailed | None:
        if row.handle.cancelled:
            return RequestFailed(499, "the request was cancelled")
        if row.deadline is not None and now > row.deadline:
            return RequestFailed(504, f"the request did not finish within the server's timeout of "
                                      f"{row.deadline - row.submitted:.0f} s")
        return None

    def _logits(self, rows: list[_Row]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The current block's logits of each row, FloatTensor (A, Kmax, V) (classifier-free guidance applied), and
        for rows whose planner verifies, the block predicted with each position's own token hidden (A, Kmax, V;
        None when no row verifies; other rows' entries are unset)."""
        width = max(r.config.block_length for r in rows)
        plain = [i for i, r in enumerate(rows) if r.config.cache == "none"]
        cached = [i for i, r in enumerate(rows) if r.config.cache != "none"]
        parts, checked = [], []
        for verifying in (False, True):  # verification makes the forward K tokens longer: only for rows that use it
            group = [i for i in plain if rows[i].planner.verifies == verifying]
            for bucket in length_buckets([len(rows[i].ids) for i in group], self._call_overhead):
                members = [group[j] for j in bucket]
                if verifying:
                    logits, hidden_self = self._plain_logits([rows[i] for i in members], width, verify=True)
                    parts.append((members, logits))
                    checked.append((members, hidden_self))
                else:
                    parts.append((members, self._plain_logits([rows[i] for i in members], width)))
        groups: dict[tuple, list[int]] = {}
        for i in cached:  # rows that share a cache mode and a layout run one cached forward, unpadded
            r = rows[i]
            groups.setdefault((r.config.cache, len(r.ids), r.block_span(), r.config.cfg_scale > 0), []).append(i)
        for members in groups.values():
            parts.append((members, self._cached_logits([rows[i] for i in members], width)))
        return _gather(parts, len(rows), width), _gather(checked, len(rows), width) if checked else None

    def _plain_logits(self, rows: list[_Row], width: int, verify: bool = False):
        """One forward over the rows left-padded to the longest: (n, width, V); with `verify`, also each block
        position predicted with its own token hidden (n, width, V), in the same call."""
        model, device = self.model, self.model.device
        length = max(len(r.ids) for r in rows)
        ids = torch.full((len(rows), length), model.pad_id, dtype=torch.long)
        attention = torch.zeros(len(rows), length, dtype=torch.long)
        prompt = torch.zeros(len(rows), length, dtype=torch.bool)
        columns = torch.empty(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            offset = length - len(r.ids)
            ids[i, offset:] = r.ids
            attention[i, offset:] = 1
            prompt[i, offset: offset + r.prompt_len] = True
            columns[i] = offset + r.block_span()[0] + torch.arange(width)
        columns = columns.clamp(max=length - 1)  # past a short block: any column, never eligible
        padded = bool((attention == 0).any())
        guided = [i for i, r in enumerate(rows) if r.config.cfg_scale > 0]
        if guided:  # unconditional copies with the prompt masked run in the same forward
            unconditional = ids[guided].masked_fill(prompt[guided], model.mask_id)
            ids, attention = torch.cat([ids, unconditional]), torch.cat([attention, attention[guided]])
            columns = torch.cat([columns, columns[guided]])
        if verify:  # verifying planners take no CFG (check_request), so there are no unconditional copies
            return model.verified_block_logits(ids.to(device), attention.to(device) if padded else None,
                                               columns.to(device))
        shared = bool((columns == columns[0]).all())
        logits = model.block_logits(ids.to(device), attention.to(device) if padded else None, columns.to(device),
                                    shared)  # (n + g, width, V)
        return _guide(logits, rows, guided)

    def _cached_logits(self, rows: list[_Row], width: int) -> torch.Tensor:
        """Rows with one cache mode and the same layout: a cached forward without padding, (n, width, V)."""
        device = self.model.device
        start, end = rows[0].block_span()
        ids = torch.stack([r.ids for r in rows])  # (n, T)
        slots = torch.tensor([r.slot for r in rows])
        step = torch.tensor([r.step for r in rows])
        guided = [i for i, r in enumerate(rows) if r.config.cfg_scale > 0]  # all or none (grouped by it)
        if guided:
            unconditional = ids.clone()
            unconditional[:, : rows[0].prompt_len] = self.model.mask_id
            ids, slots, step = torch.cat([ids, unconditional]), torch.cat([slots, slots + self.limits.max_rows]), \
                step.repeat(2)
        positions = torch.arange(ids.shape[1]).expand_as(ids)
        logits = self._runners[rows[0].config.cache](ids.to(device), None, positions.to(device), slots, start, end,
                                                     step, width)
        return _guide(logits, rows, guided)

    def _commit(self, rows: list[_Row], logits: torch.Tensor, verify: torch.Tensor | None) -> None:
        """One decode step per group of rows sharing a planner, sampling options and block layout, then each row moves
        on. A group's block width is its own block_length, as when decoded alone (random draws depend on it)."""
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(rows):
            c = r.config
            key = (r.planner, c.temperature, c.top_k, c.top_p, c.gen_length, c.block_length)
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            group = [rows[i] for i in members]
            planner, config = group[0].planner, group[0].config
            width = config.block_length
            positions = torch.arange(width)
            current = torch.full((len(group), width), self.model.pad_id, dtype=torch.long)
            block_len = torch.empty(len(group), dtype=torch.long)
            for j, r in enumerate(group):
                start, end = r.block_span()
                current[j, : end - start] = r.ids[start:end]
                block_len[j] = end - start
            block_index = torch.tensor([r.block for r in group])
            scheduled = torch.tensor([planner.steps_for(int(n), r.block, config.num_blocks) or 0
                                      for n, r in zip(block_len.tolist(), group)])
            generators = [r.generators[0] for r in group] if group[0].generators else None
            device = logits.device
            index = torch.tensor(members, device=device)
            out = decode_step(planner, logits[index, :width], current.to(device),
                              (positions[None, :] < block_len[:, None]).to(device),
                              step=torch.tensor([r.step for r in group]), block_index=block_index,
                              block_len=block_len, scheduled=scheduled, num_blocks=config.num_blocks,
                              mask_id=self.model.mask_id, temperature=config.temperature, top_k=config.top_k,
                              top_p=config.top_p, generators=generators, memory=[r.memory for r in group],
                              verify_logits=verify[index, :width] if planner.verifies else None)
            block, selected, remasked = out.block.cpu(), out.selected.cpu(), out.remasked.cpu()
            for j, r in enumerate(group):
                self._advance(r, block[j], selected[j], remasked[j])

    def _advance(self, row: _Row, block: torch.Tensor, selected: torch.Tensor, remasked: torch.Tensor) -> None:
        """Write the step into the row, move it to its next block, end it early or at its last block; notify."""
        config, mask_id, G = row.config, self.model.mask_id, row.config.gen_length
        start, end = row.block_span()
        row.ids[start:end] = block[: end - start]
        revealed = selected[: end - start].nonzero().squeeze(-1) + (start - row.prompt_len)  # (n,)
        unrevealed = remasked[: end - start].nonzero().squeeze(-1) + (start - row.prompt_len)  # (m,)
        row.reveal_step[revealed] = row.nfe
        row.reveal_step[unrevealed] = 0
        if bool((row.ids[start:end] == mask_id).any()):
            row.step += 1
        else:
            row.block, row.step = row.block + 1, 0
            if row.planner.memory_per_block:
                row.memory = row.planner.new_memory()
        gen = row.gen
        stop_ids = torch.tensor(self.model.stop_ids or [-1]) if config.eos_early_stop else None
        stopped = False
        if config.eos_early_stop or config.stop:
            ends = int(stop_positions(gen[None], mask_id, stop_ids, config.stop, self.model.tokenizer)[0])
            if ends < G:
                fill = (gen == mask_id) & (torch.arange(G) > ends)  # (G,)
                gen[fill] = self.model.eos_id
                row.reveal_step[fill] = row.nfe
                revealed = torch.cat([revealed, fill.nonzero().squeeze(-1)])
                stopped = True
        event = RowEvent(row.nfe, gen.clone(), revealed, stopped or row.block >= config.num_blocks, unrevealed)
        if event.finished:
            self._leave(row, last=event)
        else:
            _notify(row, event)

    def _leave(self, row: _Row, error: RequestFailed | None = None, last: RowEvent | None = None) -> None:
        """Free the row; finish its handle with its completion, or with `error`; then send the last event."""
        if row in self._running:
            self._running.remove(row)
        if row.slot >= 0:
            self._free_slots.append(row.slot)
            self._free_slots.sort()
            row.slot = -1
        if error is not None:
            self._fail(row, error)
            return
        tokens = row.gen.clone()
        listed = tokens.tolist()
        stop_ids = self.model.stop_ids
        length = next((i for i, t in enumerate(listed) if t in stop_ids), len(listed))
        text = answer_text(self.model.tokenizer, listed, self.model.mask_id, stop_ids, row.config.stop)
        full = answer_text(self.model.tokenizer, listed, self.model.mask_id, stop_ids, ())
        reason = "stop" if length < len(listed) or text != full else "length"
        row.handle._finish(Completion(tokens, text, row.nfe, row.reveal_step.clone(), reason, row.prompt_len,
                                      length, time.monotonic() - row.submitted), None)
        _notify(row, last)

    @staticmethod
    def _fail(row: _Row, error: RequestFailed) -> None:
        row.handle._finish(None, error)
        _notify(row, RowEvent(row.nfe, row.gen.clone(), torch.zeros(0, dtype=torch.long), True))


def _notify(row: _Row, event: RowEvent) -> None:
    """Hand the event to the request's listener; a listener that fails cancels its own request, nothing else."""
    if row.handle.listener is None:
        return
    try:
        row.handle.listener(event)
    except Exception:  # noqa: BLE001 (e.g. the client's event loop has closed)
        row.handle.cancel()


def length_buckets(lengths: list[int], overhead: int) -> list[list[int]]:
    """Split rows into forwards so that padded positions plus `overhead` per forward are fewest: sorted by length,
    each forward takes a contiguous run and pads it to its longest row (exact dynamic programme, n <= max_rows).

    Args:
        lengths: sequence length of each row.
        overhead: a forward's fixed cost in positions.
    Returns:
        Lists of row indices, one per forward.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best = [0] + [None] * len(order)  # best[i]: cost of the i shortest rows
    cut = [0] * (len(order) + 1)
    for i in range(1, len(order) + 1):
        for j in range(i):
            cost = best[j] + overhead + lengths[order[i - 1]] * (i - j)
            if best[i] is None or cost < best[i]:
                best[i], cut[i] = cost, j
    buckets, i = [], len(order)
    while i > 0:
        buckets.append(order[cut[i]:i])
        i = cut[i]
    return buckets[::-1]


def _gather(parts: list[tuple[list[int], torch.Tensor]], rows: int, width: int) -> torch.Tensor:
    """Per-group logits (members, (n, width, V)) placed at their rows of one (rows, width, V) tensor."""
    out = None
    for members, logits in parts:
        if out is None:
            out = logits.new_empty(rows, width, logits.shape[-1])
        out[torch.tensor(members, device=out.device)] = logits
    return out


def _guide(logits: torch.Tensor, rows: list[_Row], guided: list[int]) -> torch.Tensor:
    """Classifier-free guidance (LLaDA): rows in `guided` have their unconditional logits after the first n rows;
    logits = u + (w + 1)(c - u). (n + g, K, V) -> (n, K, V)."""
    n = len(rows)
    if not guided:
        return logits
    out = logits[:n].clone()
    for j, i in enumerate(guided):
        cond, uncond = logits[i], logits[n + j]
        out[i] = uncond + (rows[i].config.cfg_scale + 1) * (cond - uncond)
    return out
