"""Sweeps: the grid always holds the references, reruns resume, and the table, plot and `unmask show` agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from unmask.config import DecodeConfig
from unmask.evaluate.plots import pareto
from unmask.evaluate.sweep import sweep_configs, with_speedups
from test_evaluate import model_dir  # noqa: F401 (fixture)

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_grid_always_has_reference_and_nfe_matched_baseline():
    configs = sweep_configs(["dilated", "threshold"], [8, 16], DecodeConfig(gen_length=32), [0.7, 0.9], [0.1], [0, 2])
    for block in (8, 16):
        at = [(c.planner, c.planner_options) for c in configs if c.block_length == block]
        assert at[:2] == [("confidence", {}), ("confidence", {"match": "dilated"})]
        assert ("dilated", {}) in at
        assert sum(p == "threshold" for p, _ in at) == 4  # 2 taus x (no spacing, spacing 2)
    assert len(configs) == len(set(json.dumps(c.to_dict(), sort_keys=True) for c in configs))


def test_speedups_are_relative_to_token_by_token_at_the_same_block_length():
    rows = [{"planner": "confidence", "options": {}, "block_length": 8, "mean_nfe": 32, "decode_seconds": 8.0},
            {"planner": "dilated", "options": {}, "block_length": 8, "mean_nfe": 12, "decode_seconds": 4.0}]
    fast = with_speedups(rows)[1]
    assert abs(fast["nfe_speedup"] - 32 / 12) < 1e-9 and fast["wall_speedup"] == 2.0


def test_pareto_marks_only_undominated_points():
    points = [(10, 50), (20, 60), (30, 55), (5, 40)]
    assert pareto(points, lower_x_better=True) == [0, 1, 3]


def test_sweep_command_writes_results_table_plot_and_resumes(tmp_path, model_dir):  # noqa: F811
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "unmask", "sweep", "--model", str(model_dir), "--task", "sudoku", "--planners",
           "dilated,entropy_bound", "--block-lengths", "4,8", "--gammas", "0.5", "--limit", "4", "--batch-size", "4",
           "--gen-length", "16", "--out", str(out)]
    first = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == 2 * 4  # per B: reference, NFE-matched, dilated, entropy_bound
    assert (out / "frontier.png").stat().st_size > 10_000
    table = (out / "table.md").read_text()
    assert "confidence (token-by-token)" in table and "entropy_bound gamma=0.5" in table
    again = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    assert again.returncode == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 8, "a rerun must not duplicate results"
    shown = subprocess.run([sys.executable, "-m", "unmask", "show", str(out)], env=ENV, capture_output=True, text=True)
    assert shown.stdout.strip() == table.strip()
