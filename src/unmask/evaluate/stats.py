"""Small statistics for accuracy reports."""

from __future__ import annotations

import math


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion (well behaved at 0% and 100%, unlike the normal one)."""
    if total == 0:
        return (0.0, 0.0)
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def exact_mcnemar(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value for two methods scored on the same problems.

    Only the discordant problems count: `only_first` solved by the first method alone, `only_second` by the second
    alone. Under "equally good" each discordant problem is a fair coin, so p = 2 P(X <= min) for X ~ Bin(n, 1/2),
    n = only_first + only_second (capped at 1; 1.0 when n = 0).
    """
    if only_first < 0 or only_second < 0:
        raise ValueError(f"counts must be >= 0, got {only_first} and {only_second}")
    n, low = only_first + only_second, min(only_first, only_second)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(low + 1)) / 2**n)
