"""`unmask eval`: decode a task's records with one decode config, score them, and summarise.

A run lives in `OUT/<task>-<planner>-<hash>/`, where the hash covers everything that changes results (task and data,
decode config, model fingerprint, limit, seed): a changed config never writes into an old run's directory. Samples
are appended to `samples.jsonl` (one file per process) as each batch finishes; a rerun skips finished samples, so
an interrupted run loses at most the batch in flight. Under `torchrun` / `accelerate launch` the records are sharded
over processes and process 0 merges the shards into the summary.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from unmask.config import DecodeConfig
from unmask.decode import decode
from unmask.evaluate.records import append_records, read_samples
from unmask.evaluate.stats import wilson_interval
from unmask.models.base import Denoiser
from unmask.sandbox import SandboxUnavailable
from unmask.sandbox import require as require_sandbox
from unmask.tasks import Task

DEFAULT_EVAL_SEED = 20_251_130  # synthetic test sets: a seed never used by training ("train:..." streams)


@dataclass(frozen=True)
class EvalRun:
    """Identity of one evaluation: what decides its results, hence its directory."""

    task: str
    data: str
    limit: int | None
    seed: int
    config: DecodeConfig
    model: str
    model_fingerprint: str

    def key(self) -> str:
        blob = json.dumps({"task": self.task, "data": self.data, "limit": self.limit, "seed": self.seed,
                           "config": self.config.to_dict(), "model": self.model_fingerprint}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


def run_directory(out: str | Path, run: EvalRun) -> Path:
    return Path(out) / f"{run.task}-{run.config.planner}-{run.key()}"


def load_records(task: Task, data: str | None, split: str, limit: int | None, seed: int) -> list[dict]:
    """Records from a local file (`data`), or freshly generated for a synthetic task (`limit` of them, default 500)."""
    if data is not None:
        return task.load(data, split=split, limit=limit)
    try:
        return task.generate(limit or 500, seed)
    except NotImplementedError:
        raise ValueError(f"task {task.name!r} has no generator: pass --data with a local file of its records") from None


def model_fingerprint(path: str | Path | None) -> str:
    """sha256 over a model directory's config and weights (weights by name and size above 256 MB in total)."""
    if path is None:
        return "in-memory"
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".bin"))
    big = sum(p.stat().st_size for p in files) > 256 * 2**20
    for file in files:
        digest.update(file.name.encode())
        if big and file.suffix != ".json":
            digest.update(str(file.stat().st_size).encode())
        else:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _environment(model: Denoiser) -> dict:
    import transformers

    import unmask

    device = model.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"unmask": unmask.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "device": f"{device.type}: {name}", "threads": torch.get_num_threads()}


def evaluate(model: Denoiser, task: Task, records: list[dict], config: DecodeConfig, out: str | Path,
             batch_size: int = 8, model_path: str | None = None, data: str | None = None, limit: int | None = None,
             seed: int = DEFAULT_EVAL_SEED, progress: bool = True, rank: int = 0, world: int = 1,
             barrier=None) -> dict | None:
    """Evaluate `records`; returns the summary (on process 0; None elsewhere).

    Args:
        records: the task's records, in a fixed order (sample ids are their indices).
        out: results root; the run goes to `run_directory(out, ...)`.
        rank, world, barrier: data-parallel sharding (sample i goes to process i % world); `barrier()` waits for all.
    """
    if task.runs_code:  # no sandbox here: say so before any model call, not as a failed sample each
        require_sandbox()
    run = EvalRun(task.name, str(data or "generated"), limit, seed, config, str(model_path or "bundled"),
                  model_fingerprint(model_path))
    directory = run_directory(out, run)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "run.json").write_text(json.dumps({**run.__dict__, "config": config.to_dict()}, indent=2))
    shard = directory / f"samples.{rank}.jsonl"
    done = {r["id"] for r in read_samples(shard, repair=True)}
    for other in directory.glob("samples.*.jsonl"):  # shards of earlier runs with another process count
        if other != shard:
            done |= {r["id"] for r in read_samples(other)}
    todo = [i for i in range(len(records)) if i % world == rank and i not in done]
    tokenizer = model.tokenizer
    stop = tuple(config.stop) or tuple(getattr(task, "stop", ()))
    if stop != config.stop:
        config = DecodeConfig.from_dict({**config.to_dict(), "stop": list(stop)})
    mine = sum(1 for i in range(len(records)) if i % world == rank)
    with _Progress(progress and rank == 0, mine, mine - len(todo)) as bar:
        for start in range(0, len(todo), batch_size):
            ids = todo[start : start + batch_size]
            prompts = [task.prompt(records[i], tokenizer) for i in ids]
            result = decode(model, prompts, config)
            rows = []
            for row, i in enumerate(ids):
                completion = result.texts[row]
                rows.append({
                    "id": i, "prompt": prompts[row], "completion": completion,
                    "answer": _jsonable(task.extract(completion)), "gold": _jsonable(task.gold(records[i])),
                    **_score(task, records[i], completion), "nfe": int(result.nfe[row]),
                    "tokens": _answer_tokens(result.tokens[row].tolist(), model.stop_ids),
                    "seconds": result.seconds / len(ids), "batch_seconds": result.seconds,
                })
            append_records(shard, rows)
            bar.advance(rows)
    if barrier is not None:
        barrier()
    if rank != 0:
        return None
    return summarise(directory, run, model, len(records))


def summarise(directory: Path, run: EvalRun, model: Denoiser, expected: int) -> dict:
    """Merge the per-process sample files into `samples.jsonl` and write `summary.json`."""
    samples = {}
    for shard in sorted(directory.glob("samples.*.jsonl")):
        for record in read_samples(shard):
            samples.setdefault(record["id"], record)
    ordered = [samples[i] for i in sorted(samples)]
    (directory / "samples.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in ordered))
    n = len(ordered)
    correct = sum(s["correct"] for s in ordered)
    nfe = sum(s["nfe"] for s in ordered)
    seconds = sum(s["seconds"] for s in ordered)
    tokens = sum(s["tokens"] for s in ordered)
    low, high = wilson_interval(correct, n)
    summary = {
        "task": run.task, "planner": run.config.planner, "options": run.config.planner_options,
        "samples": n, "expected": expected, "complete": n == expected, "correct": correct,
        "accuracy": correct / n if n else 0.0, "ci95": [low, high],
        "mean_nfe": nfe / n if n else 0.0, "total_nfe": nfe,
        "decode_seconds": seconds, "tokens_per_second": tokens / seconds if seconds else 0.0,
        "config": run.config.to_dict(), "model": run.model, "model_fingerprint": run.model_fingerprint,
        "data": run.data, "seed": run.seed, "environment": _environment(model), "directory": str(directory),
    }
    (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _score(task: Task, record: dict, completion: str) -> dict:
    """`{"correct": bool}`; when scoring raises (whatever the completion did), a failed sample with the error in
    `score_error`, so that one completion never aborts a run (or a resumed one)."""
    try:
        return {"correct": bool(task.score(record, completion))}
    except SandboxUnavailable:
        raise
    except Exception as error:
        return {"correct": False, "score_error": f"{type(error).__name__}: {error}"[:1000]}


def _answer_tokens(tokens: list[int], stop_ids: tuple[int, ...]) -> int:
    """Generated tokens up to the first end token (what a reader counts as the answer's length)."""
    for i, token in enumerate(tokens):
        if token in stop_ids:
            return i
    return len(tokens)


def _jsonable(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


class _Progress:
    """A rich progress bar with live accuracy, NFE per sample and tokens/s (silent when disabled)."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.enabled, self.total, self.done = enabled, total, done
        self.correct = self.nfe = self.tokens = self.count = 0
        self.seconds = 0.0

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("acc {task.fields[acc]} NFE/sample {task.fields[nfe]} "
                                                "{task.fields[tps]} tok/s"), TimeRemainingColumn())
            self.progress.__enter__()
            self.bar = self.progress.add_task("eval", total=self.total, completed=self.done, acc="-", nfe="-", tps="-")
        return self

    def advance(self, rows: list[dict]) -> None:
        self.count += len(rows)
        self.correct += sum(r["correct"] for r in rows)
        self.nfe += sum(r["nfe"] for r in rows)
        self.tokens += sum(r["tokens"] for r in rows)
        self.seconds += sum(r["seconds"] for r in rows)
        if self.enabled:
            self.progress.update(self.bar, advance=len(rows), acc=f"{self.correct / self.count:.3f}",
                                 nfe=f"{self.nfe / self.count:.1f}", tps=f"{self.tokens / max(self.seconds, 1e-9):.0f}")

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.__exit__(*exc)
        return False


__all__ = ["EvalRun", "evaluate", "load_records", "model_fingerprint", "run_directory", "summarise"]
