"""kit/results/claims.py: the study's claims judged from intervals, never from a guess."""

from __future__ import annotations

import polars as pl
import pytest

from kit.results import claims, repetitions


def groups(p50s: dict[str, list[float]], scenario: str = "malware", payload: str = "small") -> pl.DataFrame:
    """Per framework, its counted repetitions' p50 (ms) on one scenario, payload and rate."""
    rows = [
        {
            "framework": fw,
            "scenario": scenario,
            "payload": payload,
            "rate": 50.0,
            "rep": rep,
            "p50_ms": v,
            "valid": True,
        }
        for fw, values in p50s.items()
        for rep, v in enumerate(values)
    ]
    return repetitions.across_reps(pl.DataFrame(rows), ["p50_ms"])


def reason(framework: str, scenario: str) -> str:
    return f"skipped: {framework} has no {scenario} export"


FAST, SLOW = [2.0, 2.1, 1.9], [5.0, 5.2, 4.8]


@pytest.mark.parametrize(
    ("a", "b", "verdict"),
    [
        (FAST, SLOW, "yes"),
        (SLOW, FAST, "no"),
        ([2.0, 3.0, 4.0], [3.0, 4.0, 5.0], "within noise"),
        ([2.0], [5.0], "no interval"),
    ],
)
def test_a_pair(a: list[float], b: list[float], verdict: str) -> None:
    got, evidence = claims.pair_verdict(
        groups({"tfserving": a, "mlserver": b}), "tfserving", "mlserver", "malware", reason
    )
    assert got == verdict
    assert evidence.startswith("small @ 50/s: ")
    assert evidence.endswith(f" ms ({verdict})")


def test_the_evidence_shows_the_intervals() -> None:
    _, evidence = claims.pair_verdict(
        groups({"tfserving": FAST, "mlserver": SLOW}), "tfserving", "mlserver", "malware", reason
    )
    assert evidence == "small @ 50/s: 2.00 [1.75, 2.25] vs 5.00 [4.50, 5.50] ms (yes)"


def test_a_framework_not_measured_is_said_with_its_reason() -> None:
    got = claims.pair_verdict(groups({"mlserver": SLOW}), "tfserving", "mlserver", "malware", reason)
    assert got == ("not measured", "tfserving: skipped: tfserving has no malware export")


def test_frameworks_measured_at_different_payloads_share_nothing() -> None:
    both = pl.concat([groups({"tfserving": FAST}), groups({"mlserver": SLOW}, payload="large")])
    got = claims.pair_verdict(both, "tfserving", "mlserver", "malware", reason)
    assert got == ("not measured", "tfserving and mlserver share no payload and rate")


def test_every_framework_measured_and_tfserving_fastest() -> None:
    data = groups(
        {"tfserving": FAST, "torchserve": [3.0, 3.1, 2.9], "mlserver": SLOW, "mlflow": SLOW, "bentoml": SLOW}
    )
    rows = claims.check(data, reason, ["malware"])
    overall = [(r["claim"], r["verdict"], r["evidence"]) for r in rows if r["comparison"] == "overall"]
    assert overall == [
        ("TF Serving beats every other framework", "yes", "every pair: yes"),
        (
            "DL-specific (TF Serving, TorchServe) beat general-purpose (MLServer, MLflow, BentoML)",
            "yes",
            "every pair: yes",
        ),
    ]
    assert len(rows) == 2 + 4 + 6  # an overall row per claim, then a row per pair


def test_one_counterexample_settles_a_claim_even_with_frameworks_missing() -> None:
    data = groups({"tfserving": SLOW, "torchserve": FAST, "mlserver": [9.0, 9.1, 8.9]})
    rows = {(r["claim"][:10], r["comparison"]): r for r in claims.check(data, reason, ["malware"])}
    first = rows[("TF Serving", "overall")]
    assert first["verdict"] == "no"
    assert first["evidence"] == (
        "tfserving vs torchserve: no; not measured: mlflow: skipped: mlflow has no malware export; "
        "bentoml: skipped: bentoml has no malware export"
    )
    assert rows[("DL-specifi", "overall")]["verdict"] == "not measured"


def test_a_scenario_nobody_measured_is_not_measured() -> None:
    rows = claims.check(groups({"tfserving": FAST, "mlserver": SLOW}), reason, ["image"])
    assert {r["verdict"] for r in rows} == {"not measured"}
