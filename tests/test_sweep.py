"""Sweeps: the grid always holds the references, reruns resume, and the table, plot and `unmask show` agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from unmask.config import DecodeConfig
from unmask.evaluate.plots import pareto
from unmask.evaluate.sweep import sweep_configs, with_speedups
from test_evaluate import model_dir  # noqa: F401 (fixture)

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_grid_always_has_reference_and_nfe_matched_baseline():
    configs = sweep_configs(["dilated", "threshold", "klass", "credit"], [8, 16], DecodeConfig(gen_length=32),
                            [0.7, 0.9], [0.1], [0, 2])
    for block in (8, 16):
        at = [(c.planner, c.planner_options) for c in configs if c.block_length == block]
        assert at[:2] == [("confidence", {}), ("confidence", {"match": "dilated"})]
        assert ("dilated", {}) in at
        for planner in ("threshold", "klass", "credit"):  # 2 taus x (no spacing, spacing 2)
            assert sum(p == planner for p, _ in at) == 4
        assert ("klass", {"tau": 0.7, "start_stride": 2}) in at
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
    paired = subprocess.run([sys.executable, "-m", "unmask", "show", str(out), "--paired", "dilated"], env=ENV,
                            capture_output=True, text=True)
    assert paired.returncode == 0, paired.stderr[-2000:]
    assert paired.stdout.startswith(table.strip())
    after = paired.stdout.split("| B | dilated against |")[1]
    rows = [line.split(" | ") for line in after.splitlines() if line.startswith("| 4 | ")]
    assert len(rows) == 3  # token-by-token, NFE-matched confidence, entropy_bound against DUS at B = 4
    correct = {}  # (B, planner, options) -> {id: correct}, read straight from the run directories
    for r in results:
        samples = (out / "runs" / os.path.basename(r["directory"]) / "samples.jsonl").read_text().splitlines()
        key = (r["block_length"], r["planner"], json.dumps(r["options"], sort_keys=True))
        correct[key] = {json.loads(x)["id"]: json.loads(x)["correct"] for x in samples}
    dus = correct[(4, "dilated", json.dumps({}))]
    matched = correct[(4, "confidence", json.dumps({"match": "dilated"}))]
    row = next(r for r in rows if "match=dilated" in r[1])
    assert int(row[5]) == sum(dus[i] and not matched[i] for i in dus)
    assert int(row[6]) == sum(matched[i] and not dus[i] for i in dus)
    assert int(row[4]) == sum(dus[i] and matched[i] for i in dus)
    unknown = subprocess.run([sys.executable, "-m", "unmask", "show", str(out), "--paired", "binary"], env=ENV,
                             capture_output=True, text=True)
    assert unknown.returncode != 0 and "dilated" in unknown.stderr
    retrained = tmp_path / "retrained"  # other weights in the same --out: evaluated anew, never the old summaries
    shutil.copytree(model_dir, retrained)
    config = json.loads((retrained / "config.json").read_text())
    (retrained / "config.json").write_text(json.dumps({**config, "retrained": True}))
    other = subprocess.run(cmd[:5] + [str(retrained)] + cmd[6:], env=ENV, capture_output=True, text=True)
    assert other.returncode == 0, other.stderr[-2000:]
    assert len((out / "results.jsonl").read_text().splitlines()) == 16


def test_tokens_per_forward_is_gen_length_over_mean_nfe():
    from unmask.evaluate.sweep import tokens_per_forward

    assert tokens_per_forward({"config": {"gen_length": 64}, "mean_nfe": 16.0}) == 4.0


def test_area_under_parallelism_integrates_the_staircase_above_one_token_per_call():
    from unmask.evaluate.sweep import area_under_parallelism

    assert area_under_parallelism([(4.0, 0.5)]) == 1.5  # (4 - 1) * 0.5
    # from 1 to 2: best of all (0.9); from 2 to 4: only the TPF-4 point (0.5)
    assert abs(area_under_parallelism([(2.0, 0.9), (4.0, 0.5)]) - (0.9 + 2 * 0.5)) < 1e-12
    # a slower point never lowers the area: 1..3 at 0.95 (the TPF-3 point), 3..4 at 0.5
    assert abs(area_under_parallelism([(4.0, 0.5), (2.0, 0.9), (3.0, 0.95)]) - (2 * 0.95 + 0.5)) < 1e-12
    assert area_under_parallelism([(1.0, 1.0)]) == 0.0  # never faster than token-by-token


def test_family_summary_ranks_by_aup_and_the_table_shows_tpf():
    from unmask.evaluate.sweep import family_summary, markdown_table

    def result(planner, options, nfe, accuracy):
        return {"planner": planner, "options": options, "block_length": 8, "mean_nfe": nfe, "accuracy": accuracy,
                "ci95": [0, 1], "decode_seconds": 1.0, "samples": 10, "config": {"gen_length": 32}}

    results = [result("confidence", {}, 32, 0.9), result("dilated", {}, 16, 0.8),
               result("threshold", {"tau": 0.9}, 8, 0.85), result("threshold", {"tau": 0.7}, 4, 0.6)]
    summary = family_summary(results)
    assert [f["family"] for f in summary] == ["threshold", "dilated", "token-by-token"]
    assert abs(summary[0]["aup"] - (3 * 0.85 + 4 * 0.6)) < 1e-12 and summary[0]["max_tpf"] == 8.0
    assert summary[2]["aup"] == 0.0
    table = markdown_table(results)
    assert "| 8 | threshold tau=0.7 | 60.0 | [0.0, 100.0] | 4.0 | 8.00 |" in table
    assert "| threshold | 4.95 | 2 | 85.0 | 4.00 | 8.00 |" in table


def test_envelope_is_a_staircase_through_the_pareto_points():
    from unmask.evaluate.plots import envelope

    points = [(10, 50), (20, 60), (30, 55), (5, 40)]
    assert envelope(points, lower_x_better=True) == [(5, 40), (10, 40), (10, 50), (20, 50), (20, 60)]
    assert envelope([(2.0, 90), (4.0, 50)], lower_x_better=False) == [(4.0, 50), (2.0, 50), (2.0, 90)]


def test_paired_table_counts_the_problems_only_one_config_solves(tmp_path):
    from unmask.evaluate.stats import exact_mcnemar
    from unmask.evaluate.sweep import paired_table

    def run(name, planner, options, correct):
        directory = tmp_path / "runs" / name
        directory.mkdir(parents=True)
        lines = [json.dumps({"id": i, "correct": c, "nfe": 4, "tokens": 8, "seconds": 0.1}) for i, c in enumerate(correct)]
        (directory / "samples.jsonl").write_text("\n".join(lines) + "\n")
        return {"block_length": 8, "planner": planner, "options": options, "mean_nfe": 4.0,
                "accuracy": sum(correct) / len(correct), "directory": f"/elsewhere/{name}"}

    dus = run("d", "dilated", {}, [True] * 6 + [False] * 4)
    matched = run("m", "confidence", {"match": "dilated"}, [True, True, False, False, False, False, True, False, False,
                                                            False])
    table = paired_table([dus, matched], tmp_path)
    row = [line for line in table.splitlines() if "match=dilated" in line][0].split(" | ")
    assert row[4:7] == ["2", "4", "1"]  # both right: ids 0, 1; DUS alone: 2-5; the other alone: 6
    assert row[7].rstrip(" |") == f"{exact_mcnemar(4, 1):.2g}"
