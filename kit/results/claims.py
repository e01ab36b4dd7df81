"""The study's claims, checked against a run's figures (never assumed).

IC2E 2024 found TF Serving the fastest framework in every scenario, and the two DL-specific
frameworks (TF Serving, TorchServe) faster than the three general-purpose ones (MLServer, MLflow,
BentoML). Here "faster" means a lower median latency (each repetition's p50, averaged over the
counted repetitions) with the 95 % intervals apart, at every payload and rate both frameworks were
measured at. Per pair of frameworks on a scenario:

- `yes`: the first is below the second at every shared payload and rate, intervals apart;
- `no`: the second is below the first, intervals apart, somewhere;
- `within noise`: no `no`, but the intervals overlap somewhere;
- `no interval`: fewer than two counted repetitions somewhere, so noise cannot be told from a
  difference (rerun with --reps 3);
- `not measured`: one of the two has no counted repetition on the scenario (the reason is given:
  skipped, failed, invalid, not in the run) or they share no payload and rate.

A claim over several pairs is `no` when any pair is `no` (one counterexample settles it), else
`not measured` when any pair was not measured, else `yes` when all are `yes`, else `within noise`
when any is, else `no interval`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from kit.ids import FRAMEWORKS, SCENARIOS
from kit.results.cells import rate_label
from kit.results.stats import separation

DL_SPECIFIC = ("tfserving", "torchserve")
GENERAL_PURPOSE = ("mlserver", "mlflow", "bentoml")
METRIC = "p50_ms"

YES, NO, NOISE, NO_INTERVAL, NOT_MEASURED = "yes", "no", "within noise", "no interval", "not measured"
_POINT = {"below": YES, "above": NO, "overlap": NOISE, "unknown": NO_INTERVAL}

CLAIMS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "TF Serving beats every other framework",
        [("tfserving", fw) for fw in FRAMEWORKS if fw != "tfserving"],
    ),
    (
        "DL-specific (TF Serving, TorchServe) beat general-purpose (MLServer, MLflow, BentoML)",
        [(a, b) for a in DL_SPECIFIC for b in GENERAL_PURPOSE],
    ),
]

Reason = Callable[[str, str], str]


def check(
    groups: pl.DataFrame,
    reason: Reason,
    scenarios: Sequence[str] = SCENARIOS,
    metric: str = METRIC,
) -> list[dict[str, str]]:
    """Rows of (claim, scenario, comparison, verdict, evidence): per claim and scenario an `overall`
    row, then one row per pair. `reason(framework, scenario)` says why one was not measured."""
    rows: list[dict[str, str]] = []
    for claim, pairs in CLAIMS:
        for scenario in scenarios:
            judged = [(a, b, *pair_verdict(groups, a, b, scenario, reason, metric)) for a, b in pairs]
            verdict, evidence = _overall(judged)
            rows.append(_row(claim, scenario, "overall", verdict, evidence))
            rows += [_row(claim, scenario, f"{a} vs {b}", v, e) for a, b, v, e in judged]
    return rows


def pair_verdict(
    groups: pl.DataFrame, a: str, b: str, scenario: str, reason: Reason, metric: str = METRIC
) -> tuple[str, str]:
    """Is `a` faster than `b` on the scenario? (verdict, evidence), see the module doc."""
    sides = [_measured(groups, fw, scenario, metric) for fw in (a, b)]
    missing = [
        f"{fw}: {reason(fw, scenario)}" for fw, side in zip((a, b), sides, strict=True) if side.height == 0
    ]
    if missing:
        return NOT_MEASURED, "; ".join(missing)
    both = sides[0].join(sides[1], on=["payload", "rate"], suffix="_b").sort(["payload", "rate"])
    if both.height == 0:
        return NOT_MEASURED, f"{a} and {b} share no payload and rate"
    points = []
    for r in both.iter_rows(named=True):
        verdict = _POINT[separation(r["lo"], r["hi"], r["lo_b"], r["hi_b"])]
        points.append(
            (
                verdict,
                f"{r['payload']} @ {rate_label(r['rate'])}/s: {_ci(r['m'], r['lo'], r['hi'])} vs "
                f"{_ci(r['m_b'], r['lo_b'], r['hi_b'])} ms ({verdict})",
            )
        )
    return _combine([v for v, _ in points]), "; ".join(text for _, text in points)


def _measured(groups: pl.DataFrame, framework: str, scenario: str, metric: str) -> pl.DataFrame:
    return groups.filter(
        (pl.col("framework") == framework)
        & (pl.col("scenario") == scenario)
        & (pl.col("reps_counted") > 0)
        & pl.col(metric).is_not_null()
    ).select(
        "payload",
        "rate",
        pl.col(metric).alias("m"),
        pl.col(f"{metric}_lo").alias("lo"),
        pl.col(f"{metric}_hi").alias("hi"),
    )


def _combine(verdicts: Sequence[str]) -> str:
    if NO in verdicts:
        return NO
    if NOT_MEASURED in verdicts:
        return NOT_MEASURED
    if all(v == YES for v in verdicts):
        return YES
    return NOISE if NOISE in verdicts else NO_INTERVAL


def _overall(judged: Sequence[tuple[str, str, str, str]]) -> tuple[str, str]:
    """The claim's verdict and why: the pairs that are not `yes`, and for those not measured the
    reason of each framework once (not once per pair it is in)."""
    verdict = _combine([v for *_, v, _ in judged])
    if verdict == YES:
        return verdict, "every pair: yes"
    shown = [f"{a} vs {b}: {v}" for a, b, v, _ in judged if v not in (YES, NOT_MEASURED)]
    reasons = dict.fromkeys(
        part for *_, v, evidence in judged if v == NOT_MEASURED for part in evidence.split("; ")
    )
    if reasons:
        shown.append("not measured: " + "; ".join(reasons))
    return verdict, "; ".join(shown)


def _ci(mean: float, lo: float | None, hi: float | None) -> str:
    return f"{mean:.2f}" if lo is None or hi is None else f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"


def _row(claim: str, scenario: str, comparison: str, verdict: str, evidence: str) -> dict[str, Any]:
    return {
        "claim": claim,
        "scenario": scenario,
        "comparison": comparison,
        "verdict": verdict,
        "evidence": evidence,
    }
