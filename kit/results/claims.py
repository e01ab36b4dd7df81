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


# --- on a study's data (kit.results.study.answer) -------------------------------------------------

COMMON_RATE, CAPACITY = "p50 at the common rate", "capacity at the SLO"
STUDY_METHOD = (
    "From IC2E 2024: TF Serving beats every other framework on each scenario, and the two DL-specific "
    "frameworks (TF Serving, TorchServe) beat the three general-purpose ones (MLServer, MLflow, "
    "BentoML). Judged twice on the study's data, at every payload both frameworks have: (1) **p50 at "
    "the common rate**: A beats B when A's mean p50 is below B's with the 95 % intervals apart (a "
    "framework with no capacity at the SLO, which misses it at or below the common rate, is beaten "
    "by one that meets it there); (2) **capacity at the SLO**: A beats B when A's capacity bracket "
    "lies wholly above B's (A's lowest possible capacity at or above the rate B missed; no capacity "
    "is the bracket [0, the lowest rate tried)). `within noise`: the intervals or brackets overlap; "
    "`no interval`: fewer than two counted repetitions; `not measured`: the study has no figures for "
    "a framework (the reason is given), never a guess."
)
Row = dict[str, Any]
Judge = Callable[[Row, Row], tuple[str, str]]


def check_study(
    answer: pl.DataFrame, reason: Reason, scenarios: Sequence[str] = SCENARIOS
) -> list[dict[str, str]]:
    """The claims' rows (as `check`) judged on the study's answer table, once per basis: the claim
    reads "<claim> (<basis>)"."""
    rows: list[dict[str, str]] = []
    for basis, judge in ((COMMON_RATE, _at_common), (CAPACITY, _at_capacity)):
        for claim, pairs in CLAIMS:
            for scenario in scenarios:
                judged = [(a, b, *_study_pair(answer, a, b, scenario, reason, judge)) for a, b in pairs]
                verdict, evidence = _overall(judged)
                named = f"{claim} ({basis})"
                rows.append(_row(named, scenario, "overall", verdict, evidence))
                rows += [_row(named, scenario, f"{a} vs {b}", v, e) for a, b, v, e in judged]
    return rows


def _study_pair(
    answer: pl.DataFrame, a: str, b: str, scenario: str, reason: Reason, judge: Judge
) -> tuple[str, str]:
    sides = {
        fw: {
            r["payload"]: r
            for r in answer.filter(pl.col("scenario") == scenario).iter_rows(named=True)
            if r["framework"] == fw
        }
        for fw in (a, b)
    }
    missing = []
    for fw, side in sides.items():
        if not any(r["measured"] for r in side.values()):
            noted = next((r["note"] for r in side.values() if r["note"]), "")
            missing.append(f"{fw}: {noted.removeprefix('not measured: ') or reason(fw, scenario)}")
    if missing:
        return NOT_MEASURED, "; ".join(missing)
    shared = [p for p in sides[a] if p in sides[b] and sides[a][p]["measured"] and sides[b][p]["measured"]]
    if not shared:
        return NOT_MEASURED, f"{a} and {b} share no payload"
    points = [judge(sides[a][p], sides[b][p]) for p in shared]
    return _combine([v for v, _ in points]), "; ".join(text for _, text in points)


def _at_common(a: Row, b: Row) -> tuple[str, str]:
    """Is a faster than b at the common rate (p50, intervals apart)?"""
    rate = a["common_rate_req_per_s"] or b["common_rate_req_per_s"]
    where = f"{a['payload']} @ {rate_label(rate)}/s" if rate else f"{a['payload']}"
    have = [r["p50_ms_per_request"] is not None for r in (a, b)]
    if all(have):
        verdict = _POINT[
            separation(
                a["p50_ms_per_request_lo"],
                a["p50_ms_per_request_hi"],
                b["p50_ms_per_request_lo"],
                b["p50_ms_per_request_hi"],
            )
        ]
        shown = [
            _ci(r["p50_ms_per_request"], r["p50_ms_per_request_lo"], r["p50_ms_per_request_hi"])
            for r in (a, b)
        ]
        return verdict, f"{where}: {shown[0]} vs {shown[1]} ms ({verdict})"
    misses = [_misses_below(r, rate) for r in (a, b)]
    if all(misses):
        return NOISE, f"{where}: neither meets the SLO at the common rate ({NOISE})"
    if have[0] and misses[1]:
        return YES, f"{where}: {b['framework']} misses the SLO at {misses[1]} ({YES})"
    if have[1] and misses[0]:
        return NO, f"{where}: {a['framework']} misses the SLO at {misses[0]} ({NO})"
    absent = [r for r, h in zip((a, b), have, strict=True) if not h]
    why = "; ".join(
        f"{r['framework']}: {r['note'] or 'no counted repetition at the common rate'}" for r in absent
    )
    return NOT_MEASURED, f"{where}: {why}"


def _misses_below(r: Row, rate: float | None) -> str:
    """ "2 req/s, at or below the common rate" when the framework has no capacity and missed the SLO
    at or below the common rate, else ""."""
    tried = r["lowest_rate_tried_req_per_s"]
    if r["capacity_outcome"] != "none" or tried is None or rate is None or tried > rate:
        return ""
    return f"{rate_label(tried)} req/s, at or below the common rate (no capacity)"


def _at_capacity(a: Row, b: Row) -> tuple[str, str]:
    """Has a a higher capacity than b (brackets apart)?"""
    brackets = [_bracket(r) for r in (a, b)]
    unknown = [
        f"{r['framework']}: {r['capacity_why'] or 'no capacity recorded'}"
        for r, br in zip((a, b), brackets, strict=True)
        if br is None
    ]
    if unknown:
        return NOT_MEASURED, f"{a['payload']}: " + "; ".join(unknown)
    (a_lo, a_hi), (b_lo, b_hi) = brackets  # type: ignore[misc]
    if b_hi is not None and a_lo >= b_hi:
        verdict = YES
    elif a_hi is not None and b_lo >= a_hi:
        verdict = NO
    else:
        verdict = NOISE
    shown = [_bracket_text(br) for br in brackets]
    return verdict, f"{a['payload']}: {shown[0]} vs {shown[1]} req/s ({verdict})"


def _bracket(r: Row) -> tuple[float, float | None] | None:
    if r["capacity_low_req_per_s"] is not None:
        return r["capacity_low_req_per_s"], r["capacity_high_req_per_s"]
    if r["capacity_outcome"] == "none" and r["lowest_rate_tried_req_per_s"] is not None:
        return 0.0, r["lowest_rate_tried_req_per_s"]
    if r["capacity_outcome"] == "unconfirmed" and r["capacity_high_req_per_s"] is not None:
        return 0.0, r["capacity_high_req_per_s"]  # its confirmation failed and no lower rate met
    return None


def _bracket_text(bracket: tuple[float, float | None] | None) -> str:
    if bracket is None:
        return "?"
    low, high = bracket
    return f"[{low:g}, {high:g})" if high is not None else f">= {low:g} (a lower bound)"
