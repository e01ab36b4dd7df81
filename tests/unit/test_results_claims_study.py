"""kit/results/claims.py on a study's answer: at the common rate (p50, intervals apart) and at
capacity (brackets apart); only a framework the study has no figures for is `not measured`."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from kit.results import claims
from kit.results.study import ANSWER_SCHEMA


def row(framework: str, **figures: Any) -> dict[str, Any]:
    base = {"scenario": "malware", "payload": "small", "framework": framework, "measured": True}
    base |= {"common_rate_req_per_s": 12.0, "capacity_outcome": "found", "note": ""}
    return base | figures


def found(low: float, high: float | None) -> dict[str, Any]:
    return {"capacity_req_per_s": low, "capacity_low_req_per_s": low, "capacity_high_req_per_s": high}


def p50(mean: float, half: float | None) -> dict[str, Any]:
    lo, hi = (None, None) if half is None else (mean - half, mean + half)
    return {"p50_ms_per_request": mean, "p50_ms_per_request_lo": lo, "p50_ms_per_request_hi": hi}


NONE = {"capacity_outcome": "none", "lowest_rate_tried_req_per_s": 2.0, "capacity_why": "no capacity"}


def answer(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ANSWER_SCHEMA)


def reason(framework: str, scenario: str) -> str:
    return f"{framework} not in this run"


def judge(a: dict[str, Any], b: dict[str, Any], judge: claims.Judge) -> tuple[str, str]:
    return claims._study_pair(answer(a, b), a["framework"], b["framework"], "malware", reason, judge)


@pytest.mark.parametrize(
    ("a", "b", "verdict", "evidence"),
    [
        (found(50, 60), found(24, 26), "yes", "small: [50, 60) vs [24, 26) req/s (yes)"),
        (found(24, 26), found(50, 60), "no", "small: [24, 26) vs [50, 60) req/s (no)"),
        (found(24, 30), found(26, 28), "within noise", "small: [24, 30) vs [26, 28) req/s (within noise)"),
        # Both capped: both capacities are only lower bounds, so neither is known to be higher.
        (
            found(50, None),
            found(40, None),
            "within noise",
            "small: >= 50 (a lower bound) vs >= 40 (a lower bound) req/s (within noise)",
        ),
        (found(50, None), found(24, 26), "yes", "small: >= 50 (a lower bound) vs [24, 26) req/s (yes)"),
        (found(4, 5), NONE, "yes", "small: [4, 5) vs [0, 2) req/s (yes)"),
        (found(1, 3), NONE, "within noise", "small: [1, 3) vs [0, 2) req/s (within noise)"),
    ],
)
def test_capacity_brackets(a: dict[str, Any], b: dict[str, Any], verdict: str, evidence: str) -> None:
    assert judge(row("torchserve", **a), row("mlserver", **b), claims._at_capacity) == (verdict, evidence)


def test_a_cut_sweep_has_no_capacity_to_compare() -> None:
    cut = {"capacity_outcome": "cut", "capacity_why": "the sweep was cut (Ctrl-C)"}
    got = judge(row("torchserve", **found(50, 60)), row("mlserver", **cut), claims._at_capacity)
    assert got == ("not measured", "small: mlserver: the sweep was cut (Ctrl-C)")


@pytest.mark.parametrize(
    ("a", "b", "verdict", "evidence"),
    [
        (
            p50(2.0, 0.2),
            p50(5.0, 0.5),
            "yes",
            "small @ 12/s: 2.00 [1.80, 2.20] vs 5.00 [4.50, 5.50] ms (yes)",
        ),
        (
            p50(2.0, 2.0),
            p50(3.0, 1.0),
            "within noise",
            "small @ 12/s: 2.00 [0.00, 4.00] vs 3.00 [2.00, 4.00] ms (within noise)",
        ),
        (p50(2.0, None), p50(5.0, None), "no interval", "small @ 12/s: 2.00 vs 5.00 ms (no interval)"),
        (
            p50(2.0, 0.2),
            NONE,
            "yes",
            "small @ 12/s: mlserver misses the SLO at 2 req/s, at or below the common rate (no capacity) (yes)",
        ),
        (
            NONE,
            p50(2.0, 0.2),
            "no",
            "small @ 12/s: torchserve misses the SLO at 2 req/s, at or below the common rate (no capacity) (no)",
        ),
        (NONE, NONE, "within noise", "small @ 12/s: neither meets the SLO at the common rate (within noise)"),
    ],
)
def test_at_the_common_rate(a: dict[str, Any], b: dict[str, Any], verdict: str, evidence: str) -> None:
    assert judge(row("torchserve", **a), row("mlserver", **b), claims._at_common) == (verdict, evidence)


def test_no_capacity_only_above_the_common_rate_is_not_a_verdict() -> None:
    high = NONE | {"lowest_rate_tried_req_per_s": 20.0, "note": "not at the common rate: no capacity"}
    got = judge(row("torchserve", **p50(2.0, 0.2)), row("mlserver", **high), claims._at_common)
    assert got == ("not measured", "small @ 12/s: mlserver: not at the common rate: no capacity")


def test_only_a_framework_without_study_figures_is_not_measured() -> None:
    skipped = {
        "measured": False,
        "note": "not measured: skipped: tensorflow_model_server unavailable on this host",
    }
    data = answer(
        row("tfserving", **skipped),
        row("torchserve", **found(50, 60), **p50(2.0, 0.2)),
        row("mlserver", **found(24, 26), **p50(5.0, 0.5)),
        row("mlflow", **NONE),
        row("bentoml", **found(10, 12), **p50(9.0, 0.5)),
    )
    rows = claims.check_study(data, reason, ["malware"])
    assert len(rows) == 2 * ((1 + 4) + (1 + 6))  # two bases x (each claim's overall row + its pairs)
    not_measured = {
        r["comparison"] for r in rows if r["verdict"] == "not measured" and r["comparison"] != "overall"
    }
    assert not_measured == {
        "tfserving vs torchserve",
        "tfserving vs mlserver",
        "tfserving vs mlflow",
        "tfserving vs bentoml",
    }
    overall = {r["claim"]: (r["verdict"], r["evidence"]) for r in rows if r["comparison"] == "overall"}
    dl = "DL-specific (TF Serving, TorchServe) beat general-purpose (MLServer, MLflow, BentoML)"
    assert overall[f"{dl} (capacity at the SLO)"] == (
        "not measured",
        "not measured: tfserving: skipped: tensorflow_model_server unavailable on this host",
    )
    torchserve = [r for r in rows if r["comparison"].startswith("torchserve vs")]
    assert {r["verdict"] for r in torchserve} == {"yes"}


def test_a_counterexample_at_capacity_settles_the_claim() -> None:
    data = answer(row("torchserve", **found(10, 12)), row("mlserver", **found(24, 26)))
    rows = claims.check_study(data, reason, ["malware"])
    dl = [r for r in rows if r["claim"].endswith("(capacity at the SLO)") and r["claim"].startswith("DL")]
    assert (dl[0]["verdict"], dl[0]["evidence"].split("; ")[0]) == ("no", "torchserve vs mlserver: no")
