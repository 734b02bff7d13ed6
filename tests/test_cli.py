"""The command line as a user meets it."""

from __future__ import annotations

import os
import subprocess
import sys

from test_evaluate import model_dir  # noqa: F401 (fixture)

import unmask

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "unmask", *args], env=ENV, capture_output=True, text=True)


def test_planners_lists_every_planner_with_options():
    result = run("planners")
    assert result.returncode == 0
    for name in unmask.available_planners():
        assert name in result.stdout
    assert "tau=0.9" in result.stdout and "base=2" in result.stdout


def test_generate_shows_answer_nfe_and_comparison(model_dir):  # noqa: F811
    result = run("generate", "Solve the sudoku:\\n1003\\n0300\\n3210\\n4132\\nSolution:\\n", "--escapes",
                 "--model", str(model_dir), "--planner", "dilated", "--block-length", "8", "--gen-length", "16",
                 "--compare", "confidence")
    assert result.returncode == 0, result.stderr
    assert "dilated  NFE 6" in result.stdout and "confidence  NFE" in result.stdout
    assert "calls: 1 2 3" in result.stdout


def test_bad_option_is_reported_before_loading_a_model():
    result = run("generate", "x", "--model", "/nonexistent", "--planner", "dilated", "--tau", "0.5")
    assert result.returncode == 2
    assert "has no option tau" in result.stderr and "base, skip, defer_below" in result.stderr


def test_train_continues_an_exported_model_with_cli_overrides(model_dir, tmp_path):  # noqa: F811
    import json

    out = tmp_path / "tuned"
    result = run("train", "--config", "tiny", "--steps", "2", "--task", "sudoku:0.7,countdown:0.3", "--init-from",
                 str(model_dir), "--lr", "0.0002", "--warmup", "1", "--fp32", "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "model" / "training.json").read_text())
    assert meta["config"]["bf16"] is False and meta["config"]["lr"] == 0.0002 and meta["config"]["warmup"] == 1
    assert meta["config"]["init_from"] == str(model_dir) and meta["tasks"] == {"sudoku": 0.7, "countdown": 0.3}
    assert meta["step"] == 2 and meta["config"]["seed"] == 3 and meta["pieces"][-1]["seed"] == 3
