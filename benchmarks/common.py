"""Shared helpers for the benchmark scripts: model loading, task prompts, timing, result files."""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import resource
import sys
import time
from pathlib import Path

import torch

import unmask
from unmask.tasks import get_task

RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per measurement (median reported)")
    p.add_argument("--out", default=None, help="result JSON path (default: benchmarks/results/<script>.json)")
    return p


def setup(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    model = unmask.load_model(args.model)
    return model


def task_prompts(name: str, n: int, seed: int = 7) -> list[str]:
    task = get_task(name)
    return [task.prompt(item) for item in task.generate(n, seed)]


def few_shot_prompt(name: str, target_tokens: int, tokenizer, seed: int = 11) -> str:
    """A task prompt preceded by solved examples until it is about `target_tokens` tokens long."""
    task = get_task(name)
    items = task.generate(200, seed)
    question = task.prompt(items[0])
    shots = ""
    for item in items[1:]:
        candidate = shots + task.prompt(item) + task.target(item) + "\n\n"
        if len(tokenizer(candidate + question, add_special_tokens=False)["input_ids"]) > target_tokens:
            break
        shots = candidate
    return shots + question


def median_time(fn, repeats: int) -> tuple[float, object]:
    """Median wall seconds of `fn()` over `repeats` runs (after one warm-up), and its last result."""
    fn()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], result


def forward_seconds(model, batch: int, length: int, repeats: int = 5) -> float:
    """Median seconds of one full forward of the model at (batch, length), under inference mode."""
    ids = torch.randint(3, len(model.tokenizer), (batch, length), device=model.device)

    def call():
        with torch.inference_mode():
            model(ids)

    return median_time(call, repeats)[0]


def environment() -> dict:
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "processor": platform.processor(), "python": platform.python_version(), "unmask": unmask.__version__}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(name: str, payload: dict, out: str | None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**payload, "environment": environment()}, indent=2))
    return path


def load_module(path: Path, name: str):
    """Import the Python file `path` (official code kept outside unmask) as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
