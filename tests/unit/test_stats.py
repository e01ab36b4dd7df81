"""kit/results/stats.py: Student t intervals without SciPy, checked against published t tables."""

from __future__ import annotations

import math
import statistics

import pytest

from kit.results import stats


@pytest.mark.parametrize(
    ("df", "t"),
    # Two-sided 95 % critical values, from any t table (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
    [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (9, 2.262), (10, 2.228), (30, 2.042)],
)
def test_t_critical_matches_the_table(df: int, t: float) -> None:
    assert stats.t_critical(df) == pytest.approx(t, abs=5e-4)


def test_t_critical_tends_to_the_normal_quantile() -> None:
    assert stats.t_critical(1000) == pytest.approx(1.9623, abs=1e-3)
    assert stats.t_critical(4, 0.99) == pytest.approx(4.604, abs=1e-3)


def test_the_distribution_is_a_probability() -> None:
    for df in (1, 2, 7, 8):
        assert stats.t_two_sided(0.0, df) == 0.0
        assert stats.t_two_sided(1e9, df) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="degrees of freedom must be >= 1"):
        stats.t_two_sided(1.0, 0)


def test_mean_ci_by_hand() -> None:
    values = [10.0, 12.0, 14.0]
    mean, lo, hi = stats.mean_ci(values)
    half = 4.302652729911275 * statistics.stdev(values) / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n)
    assert mean == 12.0
    assert (lo, hi) == (pytest.approx(12.0 - half), pytest.approx(12.0 + half))
    assert half == pytest.approx(4.9683, abs=1e-4)


def test_one_value_has_no_interval_and_none_has_no_mean() -> None:
    assert stats.mean_ci([3.0]) == (3.0, None, None)
    assert stats.mean_ci([]) == (None, None, None)


@pytest.mark.parametrize(
    ("a", "b", "where"),
    [
        ((1.0, 2.0), (3.0, 4.0), "below"),
        ((3.0, 4.0), (1.0, 2.0), "above"),
        ((1.0, 3.0), (2.0, 4.0), "overlap"),
        ((1.0, 2.0), (2.0, 3.0), "overlap"),  # touching ends are not apart
        ((None, None), (1.0, 2.0), "unknown"),
    ],
)
def test_separation(a: tuple[float | None, float | None], b: tuple[float, float], where: str) -> None:
    assert stats.separation(*a, *b) == where
