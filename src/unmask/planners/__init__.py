"""Planners: which masked positions to commit after each model call. One strategy per module; this registry
lists them explicitly. Wrappers compose with any planner and are reached by an option every planner takes:
`start_stride` (> 0) wraps the planner in `Spaced`."""

from __future__ import annotations

from unmask.planners.base import Planner, StepState
from unmask.planners.confidence import Confidence, Entropy, LeftToRight, Margin, Random
from unmask.planners.credit import Credit
from unmask.planners.dilated import Binary, Dilated, binary_groups, dilated_groups
from unmask.planners.entropy_bound import EntropyBound
from unmask.planners.klass import KLASS
from unmask.planners.pc_sampler import PCSampler
from unmask.planners.spacing import Spaced
from unmask.planners.threshold import Threshold
from unmask.planners.verified_eb import VerifiedEB
from unmask.planners.wino import WINO

PLANNERS: dict[str, type[Planner]] = {
    cls.name: cls
    for cls in (Dilated, Binary, Confidence, Margin, Entropy, Random, LeftToRight, Threshold, EntropyBound, KLASS,
                Credit, PCSampler, WINO, VerifiedEB)
}

WRAPPER_OPTIONS = ("start_stride",)
"""Options every planner takes by name: `start_stride` is `Spaced`'s (0 or absent: no wrapper)."""


def planner_options(name: str) -> list[str]:
    """The options planner `name` takes by name: its own, then the wrappers'."""
    return [*PLANNERS[name].options(), *WRAPPER_OPTIONS]


def available_planners() -> list[str]:
    """Registered planner names."""
    return list(PLANNERS)


def get_planner(name: str, **options) -> Planner:
    """Build planner `name` with `options`; unknown names and options are errors that list the valid ones.
    `start_stride` > 0 wraps the planner in `Spaced`."""
    if isinstance(name, Planner):
        if options:
            raise ValueError("options were given with a planner instance: set them on the instance instead")
        return name
    if name not in PLANNERS:
        raise ValueError(f"unknown planner {name!r}: choose one of {', '.join(PLANNERS)}")
    valid = planner_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"planner {name!r} has no option {', '.join(unknown)}: its options are {', '.join(valid)}")
    start_stride = options.pop("start_stride", 0)
    planner = PLANNERS[name](**options)
    return planner if start_stride is None or start_stride == 0 else Spaced(planner, start_stride)


__all__ = ["Planner", "StepState", "Spaced", "PLANNERS", "WRAPPER_OPTIONS", "available_planners", "get_planner",
           "planner_options", "dilated_groups", "binary_groups"]
