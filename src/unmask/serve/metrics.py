"""Prometheus metrics of the server, in a registry of its own (several servers can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from unmask.engine import Engine

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """Counters and histograms the server updates; the engine's queue and rows are read when scraped."""

    def __init__(self, engine: Engine):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("unmask_requests", "Requests answered, by endpoint and HTTP status",
                                ["endpoint", "status"], registry=registry)
        self.latency = Histogram("unmask_request_seconds", "Time from arrival to the last byte of a decode request",
                                 ["endpoint"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.first_token = Histogram("unmask_time_to_first_token_seconds",
                                     "Time from arrival to the first committed text of a streamed request",
                                     buckets=_LATENCY_BUCKETS, registry=registry)
        self.prompt_tokens = Counter("unmask_prompt_tokens", "Prompt tokens of finished requests", registry=registry)
        self.completion_tokens = Counter("unmask_completion_tokens", "Generated tokens of finished requests",
                                         registry=registry)
        self.request_nfe = Counter("unmask_request_nfe", "Model calls spent on finished requests, summed per request",
                                   registry=registry)
        self.model_calls = Counter("unmask_model_calls", "Batched model calls", registry=registry)
        self.rows_per_call = Histogram("unmask_rows_per_call", "Rows in each batched model call",
                                       buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=registry)
        Gauge("unmask_running_rows", "Requests in the running batch", registry=registry).set_function(
            lambda: engine.running)
        Gauge("unmask_queued_requests", "Requests waiting for a row", registry=registry).set_function(
            lambda: engine.queued)
        engine.on_call = self.on_call

    def on_call(self, rows: int, seconds: float) -> None:
        self.model_calls.inc()
        self.rows_per_call.observe(rows)

    def finished(self, prompt_tokens: int, completion_tokens: int, nfe: int) -> None:
        self.prompt_tokens.inc(prompt_tokens)
        self.completion_tokens.inc(completion_tokens)
        self.request_nfe.inc(nfe)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
