"""Argument checks shared by `DecodeConfig` and the planners.

Each failure is a ValueError that names the argument, shows the value it got (and its type when the type is wrong)
and says what to pass instead, so that a bad setting fails before any model call rather than deep inside the loop.
"""

from __future__ import annotations

import math
import numbers


def finite(name: str, value, *, at_least: float | None = None, at_most: float | None = None,
           above: float | None = None, example, note: str = "") -> float:
    """`value` when it is a finite real number (not a bool, not a string) inside the bounds (a numpy scalar comes back
    as a Python float, so that configs stay JSON-serialisable); otherwise a ValueError.

    Args:
        name: the argument as the user wrote it (e.g. "temperature", "threshold: tau").
        at_least, at_most: closed bounds; above: an open lower bound.
        example: a valid value, shown in the fix ("pass e.g. name=example").
        note: what the value means, added after the bounds (e.g. "0 is greedy").
    """
    bounds = _bounds(at_least, at_most, above)
    detail = "; ".join(part for part in ("a finite number", note) if part)
    label = name.rsplit(": ", 1)[-1]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        got = f"{value!r} (a {type(value).__name__})"
    elif not math.isfinite(value) or not _inside(value, at_least, at_most, above):
        got = repr(value)
    else:
        return value if isinstance(value, (int, float)) else float(value)
    raise ValueError(f"{name} must be {bounds} ({detail}), got {got}: pass e.g. {label}={example}")


def integer(name: str, value, *, at_least: int | None = None, example, note: str = "") -> int:
    """`value` as an int when it is an integer (not a bool; a float such as 1.9 is not silently truncated) >=
    `at_least`; otherwise a ValueError."""
    label = name.rsplit(": ", 1)[-1]
    bounds = f" >= {at_least}" if at_least is not None else ""
    extra = f" ({note})" if note else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        got = f"{value!r} (a {type(value).__name__})"
    elif at_least is not None and value < at_least:
        got = repr(value)
    else:
        return int(value)
    raise ValueError(f"{name} must be an integer{bounds}{extra}, got {got}: pass e.g. {label}={example}")


def _bounds(at_least, at_most, above) -> str:
    low = f"[{at_least}" if at_least is not None else (f"({above}" if above is not None else None)
    if low is not None and at_most is not None:
        return f"in {low}, {at_most}]"
    if at_most is not None:
        return f"<= {at_most}"
    return f">= {at_least}" if at_least is not None else f"> {above}"


def _inside(value, at_least, at_most, above) -> bool:
    return ((at_least is None or value >= at_least) and (at_most is None or value <= at_most)
            and (above is None or value > above))
