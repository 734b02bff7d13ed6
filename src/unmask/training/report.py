"""The training curve of a run, drawn from its `training.json` (for the model card)."""

from __future__ import annotations

import json
from pathlib import Path


def plot_training_curve(training_json: str | Path, path: str | Path) -> None:
    """Loss and masked-token accuracy against step, with elapsed hours on a second axis label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = json.loads(Path(training_json).read_text())
    history = meta["history"]
    weighting = meta.get("config", {}).get("loss_weighting", "inverse_t")
    steps = [h["step"] for h in history]
    hours = elapsed_hours(history)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(steps, [h["loss"] for h in history])
    left.set_xlabel("step")
    left.set_ylabel("loss (1/t-weighted CE)" if weighting == "inverse_t" else "loss (mean CE over masked tokens)")
    left.set_yscale("log")
    right.plot(steps, [h["acc"] for h in history])
    right.set_xlabel("step")
    right.set_ylabel("accuracy on masked tokens")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(f"training: {steps[-1]} steps, {hours:.2f} h of wall time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def elapsed_hours(history: list[dict]) -> float:
    """Total training hours; runs resumed by older versions restarted their clock, so segments are added up."""
    total = previous = 0.0
    for entry in history:
        if entry["seconds"] < previous:  # a resume restarted the clock
            total += previous
        previous = entry["seconds"]
    return (total + previous) / 3600
