"""`unmask sweep`: a grid of planners x block lengths (x tau / gamma / spacing) through the resumable eval runs,
with the token-by-token reference and the NFE-matched confidence baseline always included.

Writes `results.jsonl` (one summary per config, appended as each finishes), `table.md` and `frontier.png`.

The table gives each config's tokens per forward (TPF: generated positions committed per model call, G / mean NFE;
the EOS fill after an early stop counts, as it costs no call), then ranks the planner families (`plots.family`: the
planner, with spacing and NFE matching told apart, over all block lengths and speed knobs of the sweep) by their
accuracy under parallelism, AUP = integral from t = 1 to infinity of a(t) dt, where a(t) is the best accuracy
(a fraction) among the family's configs with TPF >= t, and 0 past the largest TPF: the area under the family's
accuracy-vs-TPF staircase envelope above one token per call. One config at accuracy a and TPF T gives (T - 1) a; a
family that is never faster than token-by-token gets 0. Units: accuracy x tokens per call.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from unmask.config import DecodeConfig
from unmask.evaluate.harness import evaluate, model_fingerprint
from unmask.evaluate.plots import family
from unmask.evaluate.records import append_records, read_records, read_samples
from unmask.evaluate.stats import exact_mcnemar

ADAPTIVE = {"threshold": "tau", "entropy_bound": "gamma", "klass": "tau", "credit": "tau", "wino": "tau",
            "verified_eb": "gamma"}
"""Adaptive planners and the option the sweep varies (over --taus or --gammas), each with every spacing stride."""


def sweep_configs(planners: list[str], block_lengths: list[int], base: DecodeConfig, taus: list[float],
                  gammas: list[float], start_strides: list[float]) -> list[DecodeConfig]:
    """The grid: for each block length, the token-by-token reference, the NFE-matched confidence baseline, then
    each requested planner (adaptive ones at each tau / gamma, with each spacing stride; 0 = no spacing)."""
    configs = []
    for block in block_lengths:
        at = replace(base, block_length=block)
        grid = [("confidence", {}), ("confidence", {"match": "dilated"})]
        for planner in planners:
            if planner in ADAPTIVE:
                values = taus if ADAPTIVE[planner] == "tau" else gammas
                grid += [(planner, {ADAPTIVE[planner]: v, "start_stride": g}) for v in values for g in start_strides]
            elif planner in ("confidence", "margin", "entropy", "random", "pc_sampler"):
                grid += [(planner, {"match": "dilated"})]
            else:
                grid += [(planner, {})]
        seen = []
        for planner, options in grid:
            config = replace(at, planner=planner, planner_options=options)
            if config not in seen:
                seen.append(config)
        configs += seen
    return configs


def run_sweep(model, task, records, configs: list[DecodeConfig], out: str | Path, batch_size: int,
              model_path: str | None, data: str | None, limit: int | None, seed: int, rank: int = 0, world: int = 1,
              barrier=None) -> list[dict]:
    """Evaluate every config (finished ones are skipped) and write the sweep's results, table and picture."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    fingerprint = model_fingerprint(model_path)  # a summary of other weights (retrained in place) is not reused

    def key(config: dict, of_model: str) -> str:
        return json.dumps([config, of_model], sort_keys=True)

    done = {key(r["sweep_config"], r.get("model_fingerprint")): r
            for r in read_records(results_path, repair=rank == 0)}
    for config in configs:
        if key(config.to_dict(), fingerprint) in done:
            continue
        summary = evaluate(model, task, records, config, out / "runs", batch_size=batch_size, model_path=model_path,
                           data=data, limit=limit, seed=seed, rank=rank, world=world, barrier=barrier)
        if summary is not None:
            summary["block_length"] = config.block_length
            summary["sweep_config"] = config.to_dict()
            append_records(results_path, [summary])
            done[key(config.to_dict(), fingerprint)] = summary
    if rank != 0:
        return []
    results = [done[key(c.to_dict(), fingerprint)] for c in configs]
    (out / "table.md").write_text(markdown_table(results))
    from unmask.evaluate.plots import plot_frontier

    plot_frontier(results, out / "frontier.png", title=f"{task.name}: accuracy vs speed")
    return results


def _speed_options(result: dict) -> dict:
    """The options that set a config apart from the planner's default (a zero spacing stride is the default)."""
    return {k: v for k, v in result["options"].items() if not (k == "start_stride" and v == 0)}


def label(result: dict) -> str:
    """Planner and options, e.g. `threshold tau=0.9 g0=2`."""
    options = _speed_options(result)
    if result["planner"] == "confidence" and not options:
        return "confidence (token-by-token)"
    text = " ".join(f"{'g0' if k == 'start_stride' else k}={v}" for k, v in options.items())
    return f"{result['planner']} {text}".strip()


def tokens_per_forward(result: dict) -> float:
    """Generated positions committed per model call: gen_length / mean NFE (nan without calls)."""
    return result["config"]["gen_length"] / result["mean_nfe"] if result["mean_nfe"] else float("nan")


def area_under_parallelism(points: list[tuple[float, float]]) -> float:
    """AUP of one family (see the module docstring) from its (TPF, accuracy) points: the integral over t >= 1 of
    the best accuracy among the points with TPF >= t."""
    ordered = sorted(p for p in points if p[0] == p[0])  # ascending TPF, nan dropped
    area, left = 0.0, 1.0
    for i, (tpf, _) in enumerate(ordered):
        if tpf > left:
            area += max(acc for _, acc in ordered[i:]) * (tpf - left)
            left = tpf
    return area


def family_summary(results: list[dict]) -> list[dict]:
    """Per planner family: AUP, configs, best accuracy and its TPF, largest TPF; highest AUP first."""
    families: dict[str, list[dict]] = {}
    for r in results:
        families.setdefault(family(r), []).append(r)
    rows = []
    for name, members in families.items():
        points = [(tokens_per_forward(r), r["accuracy"]) for r in members]
        best = max(points, key=lambda p: (p[1], p[0]))
        rows.append({"family": name, "aup": area_under_parallelism(points), "configs": len(members),
                     "best_accuracy": best[1], "best_tpf": best[0], "max_tpf": max(p[0] for p in points)})
    return sorted(rows, key=lambda row: -row["aup"])


def with_speedups(results: list[dict]) -> list[dict]:
    """Each result with `nfe_speedup` and `wall_speedup` over the token-by-token reference at its block length."""
    reference = {r["block_length"]: r for r in results if r["planner"] == "confidence" and not r["options"]}
    rows = []
    for r in results:
        ref = reference.get(r["block_length"])
        nfe_up = ref["mean_nfe"] / r["mean_nfe"] if ref and r["mean_nfe"] else float("nan")
        wall_up = ref["decode_seconds"] / r["decode_seconds"] if ref and r["decode_seconds"] else float("nan")
        rows.append({**r, "nfe_speedup": nfe_up, "wall_speedup": wall_up})
    return rows


def markdown_table(results: list[dict]) -> str:
    """Per config: B, planner and options, accuracy +- CI, NFE, TPF, speed-up in NFE and in wall time over
    token-by-token. Then per planner family: AUP (highest first), best accuracy and its TPF, largest TPF."""
    lines = ["| B | planner | accuracy | 95% CI | NFE / sample | TPF | NFE speed-up | wall speed-up | n |",
             "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in with_speedups(results):
        low, high = r["ci95"]
        lines.append(f"| {r['block_length']} | {label(r)} | {100 * r['accuracy']:.1f} | [{100 * low:.1f}, "
                     f"{100 * high:.1f}] | {r['mean_nfe']:.1f} | {tokens_per_forward(r):.2f} | "
                     f"{r['nfe_speedup']:.2f}x | {r['wall_speedup']:.2f}x | {r['samples']} |")
    lines += ["", "| planner family | AUP | configs | best accuracy | at TPF | largest TPF |",
              "|---|---:|---:|---:|---:|---:|"]
    for f in family_summary(results):
        lines.append(f"| {f['family']} | {f['aup']:.2f} | {f['configs']} | {100 * f['best_accuracy']:.1f} | "
                     f"{f['best_tpf']:.2f} | {f['max_tpf']:.2f} |")
    return "\n".join(lines) + "\n"


def show(directory: str | Path, paired: str | None = None) -> str:
    """The table of a finished (or partial) sweep directory; with `paired`, `paired_table` against that planner."""
    path = Path(directory) / "results.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no results.jsonl in {directory}: run `unmask sweep --out {directory}` first")
    results = read_records(path)
    table = markdown_table(results)
    return table if paired is None else table + "\n" + paired_table(results, Path(directory), paired)


def paired_table(results: list[dict], directory: Path, reference: str = "dilated") -> str:
    """`reference` (its default options) against every other config of the same block length, problem by problem.

    Every config of a sweep decodes the same records, so two configs can be compared on each problem: the table
    counts the problems only one of the two solves and gives the exact McNemar p-value of that split, a sharper test
    than comparing two accuracies' intervals. Per-sample results are read from `directory/runs/<run>/samples.jsonl`.
    """
    by_block: dict[int, list[dict]] = {}
    for r in results:
        by_block.setdefault(r["block_length"], []).append(r)
    lines = [f"| B | {reference} against | NFE / sample | accuracy | both right | only {reference} | only the other "
             f"| exact McNemar p |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    found = False
    for block, group in sorted(by_block.items()):
        anchors = [r for r in group if r["planner"] == reference and not _speed_options(r)]
        if not anchors:
            continue
        found = True
        mine = _correct_by_id(directory, anchors[0])
        for other in group:
            if other is anchors[0]:
                continue
            theirs = _correct_by_id(directory, other)
            shared = mine.keys() & theirs.keys()
            both = sum(mine[i] and theirs[i] for i in shared)
            only_mine = sum(mine[i] and not theirs[i] for i in shared)
            only_theirs = sum(theirs[i] and not mine[i] for i in shared)
            lines.append(f"| {block} | {label(other)} | {other['mean_nfe']:.1f} | {100 * other['accuracy']:.1f} | "
                         f"{both} | {only_mine} | {only_theirs} | {exact_mcnemar(only_mine, only_theirs):.2g} |")
    if not found:
        raise ValueError(f"no {reference!r} run with its default options in this sweep: pass --paired with one of "
                         f"{', '.join(sorted({r['planner'] for r in results}))}")
    return "\n".join(lines) + "\n"


def _correct_by_id(directory: Path, result: dict) -> dict[int, bool]:
    """{record id: correct} of one sweep config, from its run's sample file."""
    run = directory / "runs" / Path(result["directory"]).name
    return {s["id"]: s["correct"] for s in read_samples(run / "samples.jsonl")}
