"""The tail rule an SLO verdict rests on (kit/results/tail.py), against figures worked by hand."""

from __future__ import annotations

import math

import pytest

from kit.results import tail


def test_the_least_count_is_where_099_to_the_n_drops_under_5_percent() -> None:
    assert tail.least_count() == 299
    assert 0.99**299 < 0.05 < 0.99**298


@pytest.mark.parametrize(("over", "n"), [(0, 299), (1, 473), (2, 628), (5, 1049)])
def test_each_request_over_the_slo_needs_more_requests_to_show_p99_met(over: int, n: int) -> None:
    assert tail.needed(over) == n
    assert tail.verdict(n, over) == tail.MEETS
    assert tail.verdict(n - 1, over) == tail.UNPROVEN


def test_the_binomial_cdf_matches_the_closed_forms() -> None:
    assert tail.binomial_cdf(0, 299, 0.01) == pytest.approx(0.99**299)
    assert tail.binomial_cdf(1, 100, 0.01) == pytest.approx(0.99**100 + 100 * 0.01 * 0.99**99)
    assert tail.binomial_cdf(-1, 10, 0.5) == 0.0 and tail.binomial_cdf(10, 10, 0.5) == 1.0
    # n in the hundreds of thousands stays finite (summed in log space)
    assert math.isfinite(tail.binomial_cdf(900, 100_000, 0.01))


def test_more_than_one_percent_over_misses_and_too_few_is_unproven_never_met() -> None:
    assert tail.verdict(1000, 11) == tail.MISSES  # the measured p99 itself is over the SLO
    assert tail.verdict(1000, 10) == tail.UNPROVEN  # exactly 1 %: no evidence it is under
    assert tail.verdict(50, 0) == tail.UNPROVEN  # 50 requests: the "p99" is the maximum
    assert tail.verdict(0, 0) == tail.UNPROVEN
    assert tail.why(50, 0, 100) == (
        "0 of 50 requests over 100 ms or failed: too few requests to show p99 <= SLO at 95% confidence "
        "(needs 299 with 0 over)"
    )
    assert tail.why(1000, 11, 100) == "11 of 1000 requests over 100 ms or failed (more than 1 %)"
