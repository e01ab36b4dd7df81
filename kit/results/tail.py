"""When a p99 can be judged against an SLO, and from how many requests.

A p99 estimated from a few dozen requests is the maximum, not a p99: with 50 requests the 99th
percentile sits between the two slowest. The kit judges "p99 <= SLO" the way MLPerf LoadGen's early
stopping judges a tail percentile: by counting the requests over the SLO (failures count as over)
and asking whether so few of them could be seen if the true share over the SLO were the tail's 1 %.

    meets     P(X <= k | n, 1 %) <= 5 %       (X binomial: we are 95 % sure the share over is < 1 %)
    misses    k > 1 % of n                     (the measured p99 itself is over the SLO)
    unproven  otherwise                        (the p99 looks within the SLO, but too few requests
                                                say so with confidence: never counted as met)

With no request over the SLO that needs at least 299 measured requests (0.99^299 < 0.05); with one
over, 473; with two, 628. `least_count()` is that first figure: every percentile the kit prints says
how many requests it rests on, and a p99 from fewer than it is flagged. The rule is conservative: a
capacity found with it is a rate the server meets, not one it might.
"""

from __future__ import annotations

import math
from functools import cache

#: The tail an SLO is set on (p99) and how sure "meets" must be.
PERCENTILE = 0.99
CONFIDENCE = 0.95
MEETS, MISSES, UNPROVEN = "meets", "misses", "unproven"


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n may be in the hundreds of thousands)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        log_term = (
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        )
        total += math.exp(log_term)
    return min(total, 1.0)


def verdict(n: int, over: int, percentile: float = PERCENTILE, confidence: float = CONFIDENCE) -> str:
    """`meets`, `misses` or `unproven` for `over` of `n` measured requests over the SLO (or failed)."""
    if n <= 0:
        return UNPROVEN
    tail = 1.0 - percentile
    if over > tail * n:
        return MISSES
    return MEETS if binomial_cdf(over, n, tail) <= 1.0 - confidence else UNPROVEN


@cache
def least_count(percentile: float = PERCENTILE, confidence: float = CONFIDENCE) -> int:
    """The fewest measured requests that can show the percentile within an SLO: all of them within it."""
    return math.ceil(math.log(1.0 - confidence) / math.log(percentile))


def needed(over: int, percentile: float = PERCENTILE, confidence: float = CONFIDENCE) -> int:
    """The fewest requests with `over` of them over the SLO that `verdict` calls `meets`."""
    n = max(least_count(percentile, confidence), 1)
    while verdict(n, over, percentile, confidence) != MEETS:
        n += max(1, n // 64)
    while n > 1 and verdict(n - 1, over, percentile, confidence) == MEETS:
        n -= 1
    return n


def why(n: int, over: int, slo_ms: float) -> str:
    """The reason beside a verdict other than `meets`, in words a reader can check."""
    v = verdict(n, over)
    if v == MISSES:
        return f"{over} of {n} requests over {slo_ms:g} ms or failed (more than 1 %)"
    if v == UNPROVEN:
        return (
            f"{over} of {n} requests over {slo_ms:g} ms or failed: too few requests to show p99 <= SLO "
            f"at {CONFIDENCE:.0%} confidence (needs {needed(over)} with {over} over)"
        )
    return ""
