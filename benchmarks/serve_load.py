"""Load benchmark of `unmask serve` on 127.0.0.1: the same requests one at a time (1 client) and from 8 and 32
concurrent clients, through the openai async client, streamed.

Reports per concurrency: generated tokens/s, requests/s, p50/p99 latency, p50/p99 time to the first committed text,
requests lost (an exception, or a stream without a finish reason: must be 0), answers identical to the one-at-a-time
run, and the server's resident memory (sampled every 0.5 s; peak and last per phase, to show it is steady). On a
shared machine wall-clock rates follow the other processes' load, so each phase also reports the server process's
CPU seconds (user + system, from /proc) per generated token and the load average: repeat the levels
(`--clients 1,8,32,1,8,32`) to see the drift.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py --requests 64

Bounded: a fixed number of requests per phase and a wall-clock limit per phase; the server binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, task_prompts  # noqa: E402

NAME = "mdlm-5m"
PLANS = [{}, {"planner": "threshold", "tau": 0.9}, {"planner": "entropy_bound", "gamma": 0.5}]
"""Per-request planners, in turn (the server's default is dilated)."""


def workload(n: int) -> list[dict]:
    """`n` requests over the bundled model's tasks and three planners."""
    prompts = [p for trio in zip(task_prompts("arith", n), task_prompts("countdown3", n), task_prompts("sudoku", n))
               for p in trio][:n]
    return [{"prompt": p, "extra_body": PLANS[i % len(PLANS)]} for i, p in enumerate(prompts)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of `pid` in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def one(client, request: dict, max_tokens: int) -> dict:
    began = time.perf_counter()
    first, text, finish, usage = None, "", None, None
    stream = await client.completions.create(model=NAME, prompt=request["prompt"], max_tokens=max_tokens, stream=True,
                                             stream_options={"include_usage": True},
                                             extra_body=request["extra_body"])
    async for chunk in stream:
        if chunk.choices:
            piece = chunk.choices[0].text
            if piece and first is None:
                first = time.perf_counter() - began
            text += piece
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    if finish is None or usage is None:
        raise RuntimeError("the stream ended without a finish reason and usage")
    return {"latency": time.perf_counter() - began, "first": first, "text": text,
            "tokens": usage.completion_tokens, "nfe": usage.model_extra["nfe"]}


async def phase(url: str, requests: list[dict], clients: int, max_tokens: int, limit_s: float) -> dict:
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=limit_s) as client:
        return await _phase(client, requests, clients, max_tokens, limit_s)


async def _phase(client, requests: list[dict], clients: int, max_tokens: int, limit_s: float) -> dict:
    queue = list(enumerate(requests))
    results: dict[int, dict] = {}
    lost: list[str] = []

    async def worker():
        while queue:
            index, request = queue.pop(0)
            try:
                results[index] = await one(client, request, max_tokens)
            except Exception as error:  # noqa: BLE001 (counted as lost)
                lost.append(f"{type(error).__name__}: {error}")

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), limit_s)
    seconds = time.perf_counter() - began
    done = list(results.values())
    latencies = sorted(r["latency"] for r in done)
    firsts = sorted(r["first"] for r in done if r["first"] is not None)
    tokens = sum(r["tokens"] for r in done)
    return {"clients": clients, "requests": len(requests), "completed": len(done), "lost": len(lost),
            "lost_errors": lost[:5], "seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds,
            "requests_per_s": len(done) / seconds, "latency_p50_s": _pct(latencies, 50),
            "latency_p99_s": _pct(latencies, 99), "first_text_p50_s": _pct(firsts, 50),
            "first_text_p99_s": _pct(firsts, 99), "mean_nfe": sum(r["nfe"] for r in done) / max(1, len(done)),
            "texts": {i: r["text"] for i, r in results.items()}}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def start_server(args) -> tuple[subprocess.Popen, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "unmask", "serve", "--model", "bundled", "--host", "127.0.0.1", "--port",
               str(port), "--gen-length", str(args.max_tokens), "--block-length", str(args.block_length),
               "--max-rows", str(args.max_rows), "--log-level", "warning"]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the server did not start within 120 s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=64, help="requests per phase")
    p.add_argument("--clients", default="1,8,32", help="concurrency levels; the first is the one-at-a-time baseline")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--block-length", type=int, default=16)
    p.add_argument("--max-rows", type=int, default=32)
    p.add_argument("--limit-s", type=float, default=900, help="wall-clock limit per phase")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    requests = workload(args.requests)
    server, url = start_server(args)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            samples.append(rss_mb(server.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        asyncio.run(phase(url, requests[:4], 4, args.max_tokens, args.limit_s))  # warm-up, not reported
        rows = []
        for clients in levels:
            start, cpu, load = len(samples), cpu_seconds(server.pid), os.getloadavg()[0]
            row = asyncio.run(phase(url, requests, clients, args.max_tokens, args.limit_s))
            row["server_cpu_s"] = cpu_seconds(server.pid) - cpu
            row["tokens_per_server_cpu_s"] = row["tokens"] / row["server_cpu_s"]
            row["load_average_1min"] = [load, os.getloadavg()[0]]
            window = samples[start:] or [rss_mb(server.pid)]
            row["rss_mb_last"], row["rss_mb_peak_in_phase"] = window[-1][0], max(s[0] for s in window)
            rows.append(row)
            print(f"{clients:>3} clients: {row['tokens_per_s']:.1f} tok/s, {row['requests_per_s']:.2f} req/s, "
                  f"p50 {row['latency_p50_s']:.2f}s p99 {row['latency_p99_s']:.2f}s, first text p50 "
                  f"{row['first_text_p50_s']:.2f}s, lost {row['lost']}, RSS {row['rss_mb_last']:.0f} MB, "
                  f"{row['tokens_per_server_cpu_s']:.1f} tok per server CPU s, load {load:.1f}", flush=True)
        metrics = httpx.get(url + "/metrics").text
    finally:
        stop.set()
        server.terminate()
        server.wait(30)
    baseline = rows[0].pop("texts")
    rows[0]["same_answers_as_baseline"] = len(baseline)
    for row in rows[1:]:
        texts = row.pop("texts")
        row["same_answers_as_baseline"] = sum(texts.get(i) == text for i, text in baseline.items())
    for row in rows:
        row["tokens_per_s_vs_one_at_a_time"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
        row["tokens_per_cpu_s_vs_one_at_a_time"] = row["tokens_per_server_cpu_s"] / rows[0]["tokens_per_server_cpu_s"]
    rows_hist = [line for line in metrics.splitlines() if line.startswith("unmask_rows_per_call_")]
    payload = {"command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py " + " ".join(sys.argv[1:]),
               "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "max_tokens": args.max_tokens,
               "block_length": args.block_length, "max_rows": args.max_rows, "plans": PLANS, "phases": rows,
               "server_peak_rss_mb": rss_peak(samples), "rows_per_call_metric": rows_hist}
    print(f"saved {save('serve_load', payload, args.out)}")


def rss_peak(samples: list[tuple[float, float]]) -> float | None:
    return max((s[1] for s in samples), default=None)


if __name__ == "__main__":
    main()
