"""The HTTP server: an OpenAI-compatible API (FastAPI + uvicorn) in front of the continuous-batching engine.

    /v1/completions, /v1/chat/completions   decode (SSE when `stream`), usage with the request's NFE
    /v1/models, /health, /metrics           the served model, liveness and queue, Prometheus metrics

Every request is validated before it reaches the engine; a refusal is an OpenAI-style error body (400, 404, 413,
429 with Retry-After), never a traceback. Streams carry committed text only (`streaming.CommittedText`); with
`unmask_draft` each chunk also lists the positions its model call revealed. A client that disconnects cancels its
request, and the engine frees its row before the next call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from unmask.config import DecodeConfig
from unmask.engine import Engine, EngineBusy, EngineLimits, Handle, RequestFailed, RowEvent
from unmask.models.base import Denoiser
from unmask.planners import PLANNERS
from unmask.serve.metrics import Metrics
from unmask.serve.protocol import (
    ApiError,
    ParsedRequest,
    chunk_body,
    completion_id,
    parse_request,
    response_body,
    usage_body,
)
from unmask.streaming import CommittedText

DISCONNECT_POLL_S = 0.25


def create_app(model: Denoiser, model_name: str, defaults: DecodeConfig, limits: EngineLimits | None = None,
               max_body_bytes: int = 1_000_000) -> FastAPI:
    """The server's ASGI app. The engine thread starts with the app and stops with it.

    Args:
        model: the denoiser to serve (with a tokenizer).
        model_name: the id clients pass as `model`.
        defaults: decode settings for fields a request leaves out (the command line's flags).
        limits: the engine's rows per call, queue length and per-request timeout.
        max_body_bytes: larger request bodies get a 413.
    """
    if model.tokenizer is None:
        raise ValueError("serving needs the model's tokenizer: load the model with one")
    engine = Engine(model, limits)
    metrics = Metrics(engine)

    async def lifespan(app):
        engine.start()
        yield
        engine.stop()

    app = FastAPI(title="unmask", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine, app.state.metrics = engine, metrics

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
        return JSONResponse(ApiError(error.status_code, str(error.detail), kind=kind).body(),
                            status_code=error.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception):
        return JSONResponse(ApiError(500, f"internal error ({type(error).__name__}); the server goes on",
                                     kind="server_error").body(), status_code=500)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, "running": engine.running, "queued": engine.queued}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0, "owned_by": "unmask"}]}

    @app.get("/metrics")
    async def prometheus():
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    async def decode(request: Request, chat: bool):
        endpoint = "chat" if chat else "completions"
        arrived = time.perf_counter()
        try:
            body = await _read_json(request, max_body_bytes)
            parsed = parse_request(body, chat, defaults, model.tokenizer, model_name)
            if parsed.stream and getattr(PLANNERS.get(parsed.config.planner), "revises", False):
                raise ApiError(400, f"planner {parsed.config.planner!r} re-masks committed tokens, so streamed text "
                                    f"could be taken back: send stream=false, or choose another planner",
                               param="stream")
            handle, events = _submit(engine, parsed)
        except ApiError as error:
            metrics.requests.labels(endpoint, str(error.status)).inc()
            raise
        call = _Call(engine, metrics, model, model_name, parsed, handle, events, chat, arrived, endpoint)
        if parsed.stream:
            return StreamingResponse(call.stream(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return await call.respond(request)

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await decode(request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await decode(request, chat=True)

    return app


async def _read_json(request: Request, limit: int) -> dict:
    """The request body as a JSON object, refused past `limit` bytes (413) or when malformed (400)."""
    declared = request.headers.get("content-length")
    too_large = ApiError(413, f"the request body is larger than the server's limit of {limit} bytes",
                         code="request_too_large")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    raw = bytearray()
    async for piece in request.stream():
        raw += piece
        if len(raw) > limit:
            raise too_large
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the request body is not valid JSON ({error})") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def _submit(engine: Engine, parsed: ParsedRequest) -> tuple[Handle, asyncio.Queue]:
    """Queue the request; its events arrive on the returned asyncio queue (from the engine's thread)."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[RowEvent] = asyncio.Queue()
    try:
        handle = engine.submit(parsed.prompt_ids, parsed.config,
                               listener=lambda event: loop.call_soon_threadsafe(events.put_nowait, event))
    except ValueError as error:
        code = "context_length_exceeded" if "maximum of" in str(error) else None
        raise ApiError(400, str(error), code=code) from None
    except EngineBusy as error:
        raise ApiError(429, f"the server is busy: {error}", kind="rate_limit_error",
                       headers={"Retry-After": str(error.retry_after)}) from None
    except RequestFailed as error:
        raise ApiError(error.status, str(error), kind="server_error") from None
    return handle, events


class _Call:
    """One decode request in flight: follows its events to a response or a stream of chunks."""

    def __init__(self, engine, metrics, model, model_name, parsed, handle, events, chat, arrived, endpoint):
        self.engine, self.metrics, self.model, self.model_name = engine, metrics, model, model_name
        self.parsed, self.handle, self.events, self.chat = parsed, handle, events, chat
        self.arrived, self.endpoint = arrived, endpoint
        self.id = completion_id(chat)

    def _done(self, status: int) -> None:
        self.metrics.requests.labels(self.endpoint, str(status)).inc()
        self.metrics.latency.labels(self.endpoint).observe(time.perf_counter() - self.arrived)

    def _usage(self, completion) -> dict:
        self.metrics.finished(completion.prompt_tokens, completion.completion_tokens, completion.nfe)
        return usage_body(completion.prompt_tokens, completion.completion_tokens, completion.nfe)

    async def respond(self, request: Request):
        """Wait for the result; a client that goes away cancels the request (its row leaves before the next call)."""
        try:
            while True:
                try:
                    event = await asyncio.wait_for(self.events.get(), DISCONNECT_POLL_S)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        self.handle.cancel()
                        self._done(499)
                        return Response(status_code=499)
                    continue
                if event.finished:
                    break
        except asyncio.CancelledError:
            self.handle.cancel()
            raise
        try:
            completion = self.handle.result(0)
        except RequestFailed as error:
            self._done(error.status)
            raise ApiError(error.status, str(error), kind="server_error") from None
        self._done(200)
        return JSONResponse(response_body(self.id, self.chat, self.model_name, completion.text,
                                          completion.finish_reason, self._usage(completion)))

    async def stream(self) -> AsyncIterator[str]:
        """Server-sent events: committed-text deltas (plus each call's reveals with `unmask_draft`), the finish
        reason, usage when asked for, then [DONE]. A failure mid-stream ends it with an error event."""
        model, parsed = self.model, self.parsed
        text = CommittedText(model.tokenizer, model.mask_id, model.stop_ids, parsed.config.stop)
        first = True
        try:
            while True:
                event = await self.events.get()
                delta = text.update(event.tokens.tolist())
                if event.finished:
                    break
                if delta or parsed.draft:
                    if delta and text.sent == delta:
                        self.metrics.first_token.observe(time.perf_counter() - self.arrived)
                    yield _sse(chunk_body(self.id, self.chat, self.model_name, delta, first=first,
                                          draft=self._draft(event, text) if parsed.draft else None))
                    first = False
            try:
                completion = self.handle.result(0)
            except RequestFailed as error:
                self._done(error.status)
                yield _sse(ApiError(error.status, str(error), kind="server_error").body())
                yield "data: [DONE]\n\n"
                return
            delta += text.finish(completion.text)
            if delta and text.sent == delta:
                self.metrics.first_token.observe(time.perf_counter() - self.arrived)
            yield _sse(chunk_body(self.id, self.chat, self.model_name, delta, first=first,
                                  draft=self._draft(event, text) if parsed.draft else None))
            yield _sse(chunk_body(self.id, self.chat, self.model_name, "", completion.finish_reason))
            usage = self._usage(completion)
            if parsed.include_usage:
                yield _sse(chunk_body(self.id, self.chat, self.model_name, None, usage=usage))
            yield "data: [DONE]\n\n"
            self._done(200)
        finally:
            if not self.handle.done:  # the client went away mid-stream
                self.handle.cancel()
                self._done(499)

    def _draft(self, event: RowEvent, text: CommittedText) -> dict:
        """The `unmask` field of a chunk: this call's reveals as [position, token id, token text]."""
        tokens = event.tokens.tolist()
        revealed = [[p, tokens[p], self.model.tokenizer.decode([tokens[p]])] for p in sorted(event.revealed.tolist())]
        return {"nfe": event.nfe, "revealed": revealed, "committed_tokens": text.committed_tokens}


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload)}\n\n"
