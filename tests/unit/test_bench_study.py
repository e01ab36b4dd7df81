"""The study's decisions (kit/bench/study.py) on a simulated server whose true capacity is known:
the capacity it finds, its bracket, a failed confirmation, no capacity at all, Ctrl-C and resume,
and the common rate."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kit import config
from kit.bench import slo, study
from kit.bench.run import Run
from kit.results import manifest
from kit.results.cells import CellKey

# The study profile without its cold starts (they need a server host: tests/integration).
STUDY = config.PROFILES["study"].model_copy(update={"cold_starts": 0})
SLO = STUDY.slo_for("malware")
assert SLO == 100.0


def new_run(tmp_path: Path) -> Run:
    man = manifest.new_manifest(
        run_id="r1", kit_version="0", git_sha="0" * 40, config={}, config_hash="h", provider="local"
    )
    return Run(man, tmp_path / "r1")


Server = Callable[[CellKey], int]  # the requests over the SLO of a cell


def capacity(c: float) -> Server:
    """A server that meets the SLO at rates up to `c` and misses it (5 % over) above."""
    return lambda key: (
        0 if key.rate <= c else math.ceil(0.05 * key.rate * slo.measured_seconds(STUDY, key.rate))
    )


class Bench:
    """measure_pair's step on a simulated server: final cells replayed from the manifest, others
    'measured' (counted in `measured`) and recorded."""

    def __init__(self, run: Run, server: Server, cut_at: int | None = None) -> None:
        self.run, self.server, self.cut_at = run, server, cut_at
        self.measured: list[CellKey] = []

    def __call__(self, key: CellKey) -> dict[str, Any]:
        if key in self.run.done():
            return self.run.record_of(key)
        if self.cut_at is not None and len(self.measured) == self.cut_at:
            raise KeyboardInterrupt
        self.measured.append(key)
        n = math.ceil(key.rate * slo.measured_seconds(STUDY, key.rate))
        over = self.server(key)
        account = {"slo_p99_ms": STUDY.slo_for(key.scenario), "requests": n, "over": over}
        summary = {"p99_ms": 50.0 if over == 0 else 300.0, "error_rate": 0.0, "slo": account}
        record = {**key.as_dict(), "status": "ok", "reason": "", "summary": summary}
        self.run.record(record)
        return record


def study_of(run: Run, pair: tuple[str, str] = ("mlserver", "malware")) -> dict[str, Any]:
    return run.study()["pairs"]["/".join((*pair, "small"))]


@pytest.mark.parametrize("true_capacity", [7.0, 37.0, 180.0, 1234.0])
def test_the_capacity_found_brackets_the_servers_true_one(tmp_path: Path, true_capacity: float) -> None:
    run = new_run(tmp_path)
    bench = Bench(run, capacity(true_capacity))
    study.StudyPair(STUDY, run, ("mlserver", "malware")).measure(bench)
    cap = study_of(run)["capacity"]
    assert cap["outcome"] == "found" and cap["confirmed"] is True
    assert cap["low"] == cap["rate"] <= true_capacity < cap["high"]
    assert cap["high"] - cap["low"] <= max(STUDY.sweep_precision * cap["low"], 1.0)
    confirm = study_of(run)["confirm"]
    assert confirm == {"rate": cap["rate"], "reps": [1, 2, 3], "outcomes": ["meets"] * 3, "pooled": "meets"}
    assert len(bench.measured) <= STUDY.sweep_max_probes + STUDY.confirm_reps
    # every probe says how many requests its verdict rests on
    probes = run.sweeps()["mlserver/malware/small"]["probes"]
    assert all(p["requests"] >= 300 for p in probes)


def test_a_failed_confirmation_falls_back_to_the_rate_below_with_the_bracket(tmp_path: Path) -> None:
    run = new_run(tmp_path)

    def flaky(key: CellKey) -> int:  # meets up to 37 in the sweep; the 2nd confirmation misses
        return capacity(37.0)(key) if key.rep != 2 else 40

    study.StudyPair(STUDY, run, ("mlserver", "malware")).measure(Bench(run, flaky))
    entry = study_of(run)
    cap, best = entry["capacity"], entry["confirm"]["rate"]
    assert entry["confirm"]["outcomes"] == ["meets", "misses"]  # no third once one missed
    assert cap["outcome"] == "unconfirmed" and cap["confirmed"] is False
    assert cap["high"] == best and cap["low"] == cap["rate"] < best
    assert cap["why"].startswith(f"at {best:g} req/s: confirmation rep 2 misses: 40 of ")


def test_no_rate_within_the_slo_is_no_capacity_with_the_lowest_rate_tried(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    bench = Bench(run, capacity(0.5))
    study.StudyPair(STUDY, run, ("mlflow", "image")).measure(bench)
    entry = study_of(run, ("mlflow", "image"))
    assert entry["capacity"]["outcome"] == "none" and entry["capacity"]["rate"] is None
    assert entry["lowest_rate_tried"] == 5.0  # 2.5 req/s could not hold 300 requests in 120 s
    assert entry["capacity"]["why"] == "no capacity at p99 <= 500 ms: lowest rate tried 5 req/s"
    assert [k.rate for k in bench.measured] == [5.0]


def test_ctrl_c_cuts_the_sweep_and_a_resume_replays_it_to_the_same_capacity(tmp_path: Path) -> None:
    whole = new_run(tmp_path / "whole")
    study.StudyPair(STUDY, whole, ("mlserver", "malware")).measure(Bench(whole, capacity(37.0)))

    run = new_run(tmp_path / "cut")
    first = Bench(run, capacity(37.0), cut_at=3)
    with pytest.raises(KeyboardInterrupt):
        study.StudyPair(STUDY, run, ("mlserver", "malware")).measure(first)
    cut = study_of(run)["capacity"]
    assert (cut["outcome"], cut["why"]) == ("cut", "the sweep was cut: interrupted (Ctrl-C)")
    assert not study.StudyPair(STUDY, run, ("mlserver", "malware")).nothing_left(run)

    second = Bench(run, capacity(37.0))
    study.StudyPair(STUDY, run, ("mlserver", "malware")).measure(second)
    assert study_of(run) == study_of(whole)
    assert set(first.measured).isdisjoint(second.measured)  # nothing measured twice
    assert len(first.measured) + len(second.measured) == len(whole.done())
    assert study.StudyPair(STUDY, run, ("mlserver", "malware")).nothing_left(run)


def test_a_framework_that_cannot_run_says_why_and_is_not_tried_again(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    pair = study.StudyPair(STUDY, run, ("tfserving", "malware"))
    pair.unrun(run, "skipped", "TF Serving's binary is not installed on this machine")
    cap = study_of(run, ("tfserving", "malware"))["capacity"]
    assert (cap["outcome"], cap["why"]) == ("skipped", "TF Serving's binary is not installed on this machine")
    assert pair.nothing_left(run)


def test_the_common_rate_is_a_fraction_of_the_lowest_capacity_rounded_down(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    for fw, c in (("torchserve", 400.0), ("mlserver", 25.0), ("bentoml", 90.0)):
        study.StudyPair(STUDY, run, (fw, "crypto")).measure(Bench(run, capacity(c)))
    study.StudyPair(STUDY, run, ("mlflow", "crypto")).measure(Bench(run, capacity(0.5)))
    frameworks = ["torchserve", "mlserver", "mlflow", "bentoml"]
    common = study.plan_common(STUDY, run, "crypto", "small", frameworks)
    low = study_of(run, ("mlserver", "crypto"))["capacity"]["rate"]
    assert (common["of"], common["lowest_capacity"]) == ("mlserver", low)
    assert common["rate"] == math.floor(0.5 * low) if 0.5 * low >= 10 else math.floor(5 * low) / 10
    assert common["frameworks"] == ["torchserve", "mlserver", "bentoml"]
    assert list(common["excluded"]) == ["mlflow"] and common["excluded"]["mlflow"].startswith("no capacity")
    assert common["reps"] == [10, 11, 12]
    run.record_study("common", "crypto/small", common)
    keys = study.common_keys(run, "bentoml", "crypto", ["small"])
    assert keys == [CellKey("bentoml", "crypto", "small", common["rate"], r) for r in (10, 11, 12)]
    assert study.common_keys(run, "mlflow", "crypto", ["small"]) == []
    pairs = [(fw, "crypto") for fw in frameworks]
    assert not study.finished(run, pairs, STUDY)
    for fw in common["frameworks"]:
        bench = Bench(run, capacity(1e9))
        for key in study.common_keys(run, fw, "crypto", ["small"]):
            bench(key)
    assert study.finished(run, pairs, STUDY)


def test_no_capacity_anywhere_is_no_common_rate(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    study.StudyPair(STUDY, run, ("mlflow", "image")).measure(Bench(run, capacity(0.5)))
    common = study.plan_common(STUDY, run, "image", "small", ["mlflow"])
    assert (common["rate"], common["why"]) == (None, "no framework has a capacity")


def test_rates_round_down_and_pairs_group_by_scenario() -> None:
    assert [study.round_down(r) for r in (12.9, 9.99, 0.05)] == [12.0, 9.9, 0.0]
    pairs = [("a", "x"), ("b", "y"), ("b", "x"), ("a", "y")]
    assert study.by_scenario(pairs) == [("x", ["a", "b"]), ("y", ["b", "a"])]


def test_one_slow_request_is_not_a_miss_until_more_requests_say_so(tmp_path: Path) -> None:
    # Every cell at or under 37 req/s has one request over the SLO: 1 in ~350 is unproven (it needs
    # 473 requests), so each probe is extended by one repetition (rep 20) and then met; confirmations
    # pass alone as unproven and, pooled with the probe's, show the tail met.
    run = new_run(tmp_path)

    def one_slow(key: CellKey) -> int:
        return capacity(37.0)(key) or 1

    bench = Bench(run, one_slow)
    study.StudyPair(STUDY, run, ("mlserver", "malware")).measure(bench)
    cap = study_of(run)["capacity"]
    assert (cap["outcome"], cap["confirmed"]) == ("found", True) and cap["low"] <= 37.0 < cap["high"]
    assert study_of(run)["confirm"]["outcomes"] == ["unproven"] * 3
    probes = run.sweeps()["mlserver/malware/small"]["probes"]
    met = [p for p in probes if p["outcome"] == "meets"]
    assert met and all(p["over_slo"] == 2 and p["requests"] >= 473 for p in met)
    assert {k.rep for k in bench.measured} == {0, 1, 2, 3, slo.EXTEND_REP}


def test_a_tail_never_shown_is_a_miss_after_the_extensions(tmp_path: Path) -> None:
    # 3 over in every cell: 3 of 350, 6 of 700, 9 of 1050 never show the tail within 1 %
    run = new_run(tmp_path)
    bench = Bench(run, lambda key: 3)
    study.StudyPair(STUDY, run, ("mlserver", "malware")).measure(bench)
    assert study_of(run)["capacity"]["outcome"] == "none"
    (probe,) = run.sweeps()["mlserver/malware/small"]["probes"]
    assert probe["outcome"] == "misses" and "too few requests to show p99 <= SLO" in probe["why"]
    assert [k.rep for k in bench.measured] == [0, slo.EXTEND_REP, slo.EXTEND_REP + 1]


def test_a_pairs_footprint_is_measured_once_after_its_capacity_and_kept_in_its_records(
    tmp_path: Path,
) -> None:
    from kit.bench import footprint

    run = new_run(tmp_path)
    with_starts = STUDY.model_copy(update={"cold_starts": 3})
    pair = ("mlserver", "malware")
    assert footprint.Footprint.done(run, pair, with_starts)  # no capacity recorded yet: never served
    study.StudyPair(with_starts, run, pair).measure(Bench(run, capacity(37.0)))
    assert not footprint.Footprint.done(run, pair, with_starts)  # served: its footprint is due
    assert footprint.Footprint.done(run, pair, STUDY)  # cold_starts = 0: none asked
    foot = {"cold_start_s": [12.5, 11.0, 11.5], "rss_after_load_mb": 480.0, "idle_cpu_pct": 0.4}
    footprint.record(run, pair, with_starts, foot)
    assert footprint.Footprint.done(run, pair, with_starts)  # a resume keeps it
    assert study_of(run)["footprint"] == foot and study_of(run)["capacity"]["outcome"] == "found"
    skipped = study.StudyPair(with_starts, run, ("tfserving", "malware"))
    skipped.unrun(run, "skipped", "TF Serving cannot run here")
    assert footprint.Footprint.done(run, ("tfserving", "malware"), with_starts)
