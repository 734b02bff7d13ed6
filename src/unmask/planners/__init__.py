"""Planners: which masked positions to commit after each model call. One strategy per module; this registry
lists them explicitly."""

from __future__ import annotations

import dataclasses

from unmask.planners.base import Planner, StepState
from unmask.planners.confidence import Confidence, Entropy, LeftToRight, Margin, Random
from unmask.planners.dilated import Binary, Dilated, binary_groups, dilated_groups
from unmask.planners.entropy_bound import EntropyBound
from unmask.planners.threshold import Threshold

PLANNERS: dict[str, type[Planner]] = {
    cls.name: cls
    for cls in (Dilated, Binary, Confidence, Margin, Entropy, Random, LeftToRight, Threshold, EntropyBound)
}


def available_planners() -> list[str]:
    """Registered planner names."""
    return list(PLANNERS)


def get_planner(name: str, **options) -> Planner:
    """Build planner `name` with `options`; unknown names and options are errors that list the valid ones."""
    if isinstance(name, Planner):
        if options:
            raise ValueError("options were given with a planner instance: set them on the instance instead")
        return name
    if name not in PLANNERS:
        raise ValueError(f"unknown planner {name!r}: choose one of {', '.join(PLANNERS)}")
    cls = PLANNERS[name]
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(valid) if valid else "none"
        raise ValueError(f"planner {name!r} has no option {', '.join(unknown)}: its options are {listing}")
    return cls(**options)


__all__ = ["Planner", "StepState", "PLANNERS", "available_planners", "get_planner", "dilated_groups", "binary_groups"]
