"""The speed-quality frontier: accuracy against NFE and against measured wall-clock speed-up."""

from __future__ import annotations

from pathlib import Path


def family(result: dict) -> str:
    """The line a point belongs to: planner, with the spacing filter and NFE matching told apart."""
    options = result["options"]
    name = result["planner"]
    if options.get("start_stride"):
        name += " + spacing"
    if options.get("match"):
        name += " (NFE-matched)"
    if name == "confidence" and not options:
        name = "token-by-token"
    return name


def pareto(points: list[tuple[float, float]], lower_x_better: bool) -> list[int]:
    """Indices of points no other point beats on both accuracy (higher) and cost (x)."""
    best = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x if lower_x_better else x2 >= x) and y2 >= y and (x2, y2) != (x, y)
                        for x2, y2 in points)
        if not dominated:
            best.append(i)
    return best


def envelope(points: list[tuple[float, float]], lower_x_better: bool) -> list[tuple[float, float]]:
    """The Pareto envelope as a staircase through the Pareto-best points, cheapest first: from each point the line
    holds its accuracy until the next, better one."""
    best = sorted((points[i] for i in pareto(points, lower_x_better)), reverse=not lower_x_better)
    steps = []
    for x, y in best:
        if steps:
            steps.append((x, steps[-1][1]))
        steps.append((x, y))
    return steps


def plot_frontier(results: list[dict], path: str | Path, title: str = "") -> None:
    """Two panels (accuracy vs NFE; accuracy vs wall-clock speed-up). One line per planner family, its points
    joined in order of NFE and the legend in order of each family's fewest NFE; the Pareto envelope over all
    points drawn as a dashed staircase, its points ringed; axis ticks as plain numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from unmask.evaluate.sweep import with_speedups

    rows = with_speedups(results)
    families: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["mean_nfe"]):
        families.setdefault(family(r), []).append(r)  # first seen = fewest NFE, so the legend runs by NFE
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, key, xlabel, lower in ((axes[0], "mean_nfe", "NFE per sample (log scale)", True),
                                   (axes[1], "wall_speedup", "wall-clock speed-up over token-by-token", False)):
        for i, (name, members) in enumerate(families.items()):  # colour and marker: distinct past 10 families
            ax.plot([r[key] for r in members], [100 * r["accuracy"] for r in members], label=name,
                    color=plt.get_cmap("tab20").colors[(2 * i) % 20 + (i // 10) % 2], marker="osD^vP"[i % 6])
        points = [(r[key], 100 * r["accuracy"]) for r in rows if r[key] == r[key]]
        steps = envelope(points, lower_x_better=lower)
        ax.plot([x for x, _ in steps], [y for _, y in steps], color="black", linestyle="--", linewidth=1,
                label="Pareto envelope")
        best = [points[i] for i in pareto(points, lower_x_better=lower)]
        ax.scatter([x for x, _ in best], [y for _, y in best], s=160, facecolors="none", edgecolors="black",
                   linewidths=1.4)
        if key == "mean_nfe":
            ax.set_xscale("log")
            low, high = min(x for x, _ in points), max(x for x, _ in points)
            ax.set_xticks([v for v in (m * 10**e for e in range(6) for m in (1, 2, 5)) if low / 2 <= v <= high * 2])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(f"{title} (dashed: Pareto envelope, its points ringed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
