"""Evaluation runs: resumable, kill -9 safe, a new directory per config, and 2-process sharding equal to one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import unmask
from unmask.config import DecodeConfig
from unmask.evaluate import evaluate, load_records, wilson_interval
from unmask.evaluate.records import append_records, read_records
from unmask.tasks import get_task
from conftest import tiny_llama

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tokenizer):
    """A tiny bidirectional Llama saved as a local Hugging Face directory with its tokenizer."""
    path = tmp_path_factory.mktemp("tiny-model")
    model = tiny_llama(len(tokenizer))
    model.config.mask_token_id = tokenizer.mask_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _eval_cmd(model_dir, out, *extra):
    return [sys.executable, "-m", "unmask", "eval", "--model", str(model_dir), "--task", "sudoku", "--planner",
            "dilated", "--block-length", "8", "--gen-length", "24", "--out", str(out), *extra]


def _samples(out: Path) -> list[dict]:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


def test_exact_mcnemar_is_the_two_sided_binomial_test_on_the_discordant_problems():
    from unmask.evaluate.stats import exact_mcnemar

    assert exact_mcnemar(0, 0) == 1.0 and exact_mcnemar(5, 5) == 1.0
    assert exact_mcnemar(0, 6) == pytest.approx(2 / 64) == exact_mcnemar(6, 0)
    assert exact_mcnemar(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert exact_mcnemar(44, 20) < 0.005 < exact_mcnemar(35, 25)
    with pytest.raises(ValueError, match=">= 0"):
        exact_mcnemar(-1, 3)


def test_wilson_interval():
    assert wilson_interval(0, 10)[0] == 0.0 and 0.25 < wilson_interval(0, 10)[1] < 0.35
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and abs((0.5 - low) - (high - 0.5)) < 1e-9


def test_torn_line_is_dropped_and_appends_stay_clean(tmp_path):
    path = tmp_path / "s.jsonl"
    append_records(path, [{"id": 0}, {"id": 1}])
    with open(path, "ab") as handle:
        handle.write(b'{"id": 2, "compl')  # a write cut by kill -9
    assert [r["id"] for r in read_records(path)] == [0, 1]
    assert [r["id"] for r in read_records(path, repair=True)] == [0, 1]
    append_records(path, [{"id": 2}])
    assert [r["id"] for r in read_records(path)] == [0, 1, 2]


def test_rerun_resumes_and_config_change_gets_new_directory(tmp_path, model_dir):
    model = unmask.load_model(model_dir)
    task = get_task("sudoku")
    records = load_records(task, None, "test", 6, seed=1)
    config = DecodeConfig(planner="dilated", gen_length=24, block_length=8)
    first = evaluate(model, task, records[:4], config, tmp_path, batch_size=2, model_path=str(model_dir), limit=6,
                     seed=1, progress=False)
    assert first["samples"] == 4
    calls = []
    original = model.block_logits  # what the decode loop calls once per model call
    model.block_logits = lambda *a, **k: calls.append(1) or original(*a, **k)
    second = evaluate(model, task, records, config, tmp_path, batch_size=2, model_path=str(model_dir), limit=6,
                      seed=1, progress=False)
    assert second["samples"] == 6 and second["complete"]
    assert 1 <= len(calls) <= 9, "only the 2 missing samples (one batch: 3 blocks x 3 DUS groups) should be decoded"
    other = evaluate(model, task, records, DecodeConfig(planner="confidence", gen_length=24, block_length=8),
                     tmp_path, batch_size=3, model_path=str(model_dir), limit=6, seed=1, progress=False)
    assert other["directory"] != second["directory"]
    summary = json.loads(Path(second["directory"], "summary.json").read_text())
    for key in ("accuracy", "ci95", "mean_nfe", "total_nfe", "tokens_per_second", "config", "model_fingerprint",
                "environment"):
        assert key in summary
    assert 1 <= summary["mean_nfe"] <= 9  # 3 blocks x 3 DUS groups, fewer after an early EOS


def test_kill_9_loses_nothing_and_duplicates_nothing(tmp_path, model_dir):
    out = tmp_path / "out"
    cmd = _eval_cmd(model_dir, out, "--limit", "40", "--batch-size", "2")
    process = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    shard = None
    while time.time() < deadline:
        shards = list(out.glob("*/samples.0.jsonl"))
        if shards and len(shards[0].read_bytes().splitlines()) >= 4:
            shard = shards[0]
            break
        time.sleep(0.05)
    assert shard is not None, "the run never wrote samples"
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(read_records(shard))
    assert 4 <= written < 40, f"kill came too late to test anything ({written} samples written)"
    subprocess.run(cmd, env=ENV, check=True, capture_output=True)
    samples = _samples(out)
    assert sorted(s["id"] for s in samples) == list(range(40))


def test_two_processes_shard_and_merge_like_one(tmp_path, model_dir, free_port):
    single, double = tmp_path / "single", tmp_path / "double"
    subprocess.run(_eval_cmd(model_dir, single, "--limit", "10", "--batch-size", "3"), env=ENV, check=True,
                   capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", free_port,
                "-m", "unmask"] + _eval_cmd(model_dir, double, "--limit", "10", "--batch-size", "3")[3:]
    result = subprocess.run(torchrun, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = [p for p in double.iterdir() if p.is_dir()]
    assert {p.name for p in run.glob("samples.*.jsonl")} == {"samples.0.jsonl", "samples.1.jsonl"}
    one, two = _samples(single), _samples(double)
    assert [s["id"] for s in two] == list(range(10))
    assert [(s["completion"], s["correct"], s["nfe"]) for s in one] == [(s["completion"], s["correct"], s["nfe"]) for s in two]
