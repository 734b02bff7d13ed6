"""Accuracy per kind of `digits` problem, per planner, from the samples an `unmask sweep` (or `digits_table.sh`) wrote.

A single `+` / `-` has each answer digit fixed by the operands; `*` by a digit carries up to 8; a chain's second
result depends on the first result's digits, which sit in the answer itself: that is where the order in which answer
digits are revealed can matter, so it is where DUS and confidence should part if they part at all.

    python benchmarks/digits_by_operation.py runs/card-v4/digits-b8 [runs/card-v4/digits-b16 ...] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from unmask.evaluate.stats import wilson_interval

KINDS = ("add/sub", "mul", "chain")


def kind(prompt: str) -> str:
    """'chain' for two operations, 'mul' for one `*`, 'add/sub' for one `+` or `-`."""
    ops = re.findall(r"[+\-*]", prompt)
    return "chain" if len(ops) > 1 else ("mul" if ops == ["*"] else "add/sub")


def planner_label(run: dict) -> str:
    config = run["config"]
    options = ", ".join(f"{k}={v}" for k, v in sorted(config["planner_options"].items()) if k != "start_stride")
    return f"{config['planner']}{' ' + options if options else ''}"


def tally(sweep_dir: Path) -> list[dict]:
    """One row per finished run under `sweep_dir/runs`: block length, planner, NFE and per-kind (correct, total)."""
    rows = []
    run_dirs = sorted((sweep_dir / "runs").iterdir()) if (sweep_dir / "runs").is_dir() else []
    for run_dir in run_dirs:
        samples = run_dir / "samples.jsonl"
        if not samples.exists():
            continue
        run = json.loads((run_dir / "run.json").read_text())
        counts, nfe = defaultdict(lambda: [0, 0]), []
        for line in samples.read_text().splitlines():
            sample = json.loads(line)
            counts[kind(sample["prompt"])][0] += bool(sample["correct"])
            counts[kind(sample["prompt"])][1] += 1
            nfe.append(sample["nfe"])
        rows.append({"block_length": run["config"]["block_length"], "planner": planner_label(run),
                     "nfe": sum(nfe) / len(nfe), "counts": {k: tuple(counts[k]) for k in KINDS}})
    return sorted(rows, key=lambda r: (r["block_length"], r["planner"] != "confidence", r["planner"]))


def cell(correct: int, total: int) -> str:
    if not total:
        return "-"
    low, high = wilson_interval(correct, total)
    return f"{100 * correct / total:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="sweep output directories (each with runs/)")
    args = parser.parse_args()
    rows = [row for sweep in args.sweeps for row in tally(sweep)]
    if not rows:
        raise SystemExit(f"no finished runs under {', '.join(str(s) for s in args.sweeps)}: run the sweep first")
    totals = rows[0]["counts"]
    print("| B | planner | NFE / sample | " + " | ".join(f"{k} (n = {totals[k][1]})" for k in KINDS) + " |")
    print("|---:|---|---:|" + "---|" * len(KINDS))
    for row in rows:
        print(f"| {row['block_length']} | {row['planner']} | {row['nfe']:.1f} | "
              + " | ".join(cell(*row["counts"][k]) for k in KINDS) + " |")


if __name__ == "__main__":
    main()
