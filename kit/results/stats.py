"""Confidence intervals across repetitions: Student's t, computed here without SciPy.

Why Student's t and not a bootstrap: a cell has few repetitions (3 by default), and a bootstrap over
3 values can only resample those same 3 values, which gives intervals far too narrow. The t interval
is the textbook one for a mean of few roughly normal values (each repetition's p50 or p99 is itself
a summary of thousands of requests), and it is exact and reproducible: no resampling seed.

    mean +- t(0.975, n - 1) * s / sqrt(n),   s the sample standard deviation (n - 1 in the divisor)

With one repetition there is no interval (n - 1 = 0): it is reported missing, never guessed.
"""

from __future__ import annotations

import math
from functools import cache

CONFIDENCE = 0.95

#: (mean, low, high)
Interval = tuple[float | None, float | None, float | None]


def t_two_sided(share: float, df: int) -> float:
    """P(|T| < t) for Student's t with `df` degrees of freedom (Abramowitz & Stegun 26.7.3 and 26.7.4,
    the finite series for whole df: exact, no special functions needed)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    theta = math.atan(share / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        total, term = 0.0, 1.0
        if df > 1:
            total = term
            for k in range(1, (df - 3) // 2 + 1):
                term *= c2 * (2 * k) / (2 * k + 1)
                total += term
            return (2 / math.pi) * (theta + math.sin(theta) * math.cos(theta) * total)
        return 2 * theta / math.pi
    total, term = 1.0, 1.0
    for k in range(1, (df - 2) // 2 + 1):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return math.sin(theta) * total


@cache
def t_critical(df: int, confidence: float = CONFIDENCE) -> float:
    """The t with P(|T| < t) = confidence (e.g. 4.3027 for df 2 at 95 %), by bisection to 1e-12."""
    lo, hi = 0.0, 1.0
    while t_two_sided(hi, df) < confidence:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def mean_ci(values: list[float], confidence: float = CONFIDENCE) -> Interval:
    """(mean, low, high) of the values; low and high are None below two values."""
    if not values:
        return None, None, None
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None, None
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_critical(n - 1, confidence) * s / math.sqrt(n)
    return mean, mean - half, mean + half


def separation(a_lo: float | None, a_hi: float | None, b_lo: float | None, b_hi: float | None) -> str:
    """Where interval a lies against interval b: "below" or "above" when they do not overlap, "overlap"
    (the difference is within noise), or "unknown" when either interval is missing (one repetition)."""
    if a_lo is None or a_hi is None or b_lo is None or b_hi is None:
        return "unknown"
    if a_hi < b_lo:
        return "below"
    if a_lo > b_hi:
        return "above"
    return "overlap"
