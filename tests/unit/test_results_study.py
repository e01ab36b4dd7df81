"""kit/results/study.py: the study's answer from a run folder alone, with known answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from study_run import STUDY, write_study_run

from kit.results import analysis, price_table, stats, study, study_plan, tail


@pytest.fixture(scope="module")
def table() -> price_table.PriceTable:
    return price_table.load_table(price_table.PRICES_DIR / "aws-ec2-2025-06-01.json")


@pytest.fixture(scope="module")
def study_data(tmp_path_factory: pytest.TempPathFactory) -> analysis.RunData:
    return analysis.analyse(write_study_run(tmp_path_factory.mktemp("results") / "study"))


def rows(data: analysis.RunData, prices: price_table.PriceTable) -> dict[str, dict[str, Any]]:
    return {r["framework"]: r for r in study.answer(data, prices).iter_rows(named=True)}


def with_study(tmp_path: Path, change: Any) -> analysis.RunData:
    """The synthetic run with its study record changed by `change(study)` first."""
    run = write_study_run(tmp_path / "study")
    doc = json.loads((run / "manifest.json").read_text())
    change(doc["study"])
    (run / "manifest.json").write_text(json.dumps(doc))
    return analysis.analyse(run)


def test_the_answer_is_ranked_by_cost_per_inference_at_capacity(
    study_data: analysis.RunData, table: price_table.PriceTable
) -> None:
    answer = study.answer(study_data, table)
    assert study_data.problems == []
    assert answer.columns == list(study.ANSWER_SCHEMA)
    assert answer.select("framework", "rank", "measured").rows() == [
        ("torchserve", 1, True),
        ("mlserver", 2, True),
        ("mlflow", None, True),
        ("tfserving", None, False),
    ]


def test_cost_at_capacity_and_its_range_from_the_bracket(
    study_data: analysis.RunData, table: price_table.PriceTable
) -> None:
    got = rows(study_data, table)
    ts, ml = got["torchserve"], got["mlserver"]
    # A 4-CPU, 8 GiB local host is priced as 4 c6i vCPU-hours: $0.17/h, an estimate. At 50 req/s of one
    # instance each: 0.17 / (50 x 3600) x 1e6 = $0.9444 per 1M inferences; at the bracket's 60: $0.7870.
    assert (ts["usd_per_hour"], ts["price_kind"]) == (pytest.approx(0.17), "estimate")
    assert ts["usd_per_1m_inferences"] == pytest.approx(0.94444, abs=1e-5)
    assert ts["usd_per_1m_inferences_lo"] == pytest.approx(0.17 / (60 * 3600) * 1e6)
    assert ts["usd_per_1m_inferences_hi"] == ts["usd_per_1m_inferences"] == ts["usd_per_1m_requests"]
    assert (ts["capacity_req_per_s"], ts["capacity_low_req_per_s"], ts["capacity_high_req_per_s"]) == (
        50,
        50,
        60,
    )
    assert ts["capacity_lower_bound"] is False and ts["capacity_confirmed"] is True
    # 1 CPU, 4 GiB: memory binds, two vCPUs' worth, $0.085/h over 24 req/s.
    assert ml["usd_per_1m_inferences"] == pytest.approx(0.085 / (24 * 3600) * 1e6)
    assert ts["rank_note"] == "cost range overlaps mlserver's"  # [0.787, 0.944] against [0.908, 0.984]


def test_cpu_and_memory_per_inference_at_the_common_rate(
    study_data: analysis.RunData, table: price_table.PriceTable
) -> None:
    got = rows(study_data, table)
    # torchserve: 50 % of 4 cores while serving 12 inferences/s -> 0.5 x 4 / 12 x 1000 CPU-s per 1,000.
    assert got["torchserve"]["server_cpu_s_per_1k_inferences"] == pytest.approx(166.667, rel=1e-5)
    # mlserver: 10 % of 1 core at 12/s -> 8.33; 512 MiB resident -> 0.5 GiB / 12 x 1000 GiB-s per 1,000.
    assert got["mlserver"]["server_cpu_s_per_1k_inferences"] == pytest.approx(8.3333, rel=1e-5)
    assert got["mlserver"]["server_gib_s_per_1k_inferences"] == pytest.approx(41.667, rel=1e-5)
    assert got["mlserver"]["server_rss_mean_mb"] == pytest.approx(512.0)
    assert (got["mlserver"]["common_reps"], got["mlserver"]["common_reps_counted"]) == (3, 3)


def test_latency_at_the_common_rate_is_the_mean_of_its_counted_reps(
    study_data: analysis.RunData, table: price_table.PriceTable
) -> None:
    ts = rows(study_data, table)["torchserve"]
    cells = study_data.cells.filter(
        (pl.col("framework") == "torchserve") & (pl.col("rate") == 12.0) & (pl.col("rep") >= 10)
    )
    mean, lo, hi = stats.mean_ci(cells["p50_ms"].to_list())
    assert (ts["p50_ms_per_request"], ts["p50_ms_per_request_lo"], ts["p50_ms_per_request_hi"]) == (
        pytest.approx(mean),
        pytest.approx(lo),
        pytest.approx(hi),
    )
    assert ts["requests_per_percentile_min"] == 360 and ts["p99_from_too_few_requests"] is False
    # The floor: served p50 - 1.0 ms in process - 0.3 ms round trip, the interval shifted with it.
    assert ts["overhead_ms_per_request"] == pytest.approx(mean - 1.3)
    assert ts["overhead_ms_per_request_hi"] - ts["overhead_ms_per_request_lo"] == pytest.approx(hi - lo)
    # The footprint: three cold starts of 5, 6 and 7 s: 6 +- t(0.975, 2) x 1 / sqrt(3).
    assert (ts["cold_start_s"], ts["cold_start_s_lo"]) == (6.0, pytest.approx(6 - 4.302653 / 3**0.5))
    assert (ts["rss_after_load_mb"], ts["rss_idle_mb"], ts["idle_cpu_pct"]) == (300.0, 280.0, 0.5)
    ml = rows(study_data, table)["mlserver"]
    assert ml["overhead_ms_per_request"] is None and ml["cold_start_s"] is None  # not measured


def test_no_capacity_and_not_measured_rank_last_with_their_reasons(
    study_data: analysis.RunData, table: price_table.PriceTable
) -> None:
    got = rows(study_data, table)
    assert got["mlflow"]["rank_note"] == "no capacity at p99 ≤ 100 ms, lowest rate tried 2 req/s"
    assert (
        got["mlflow"]["note"]
        == "not at the common rate: no capacity at p99 <= 100 ms (lowest rate tried 2 req/s)"
    )
    assert got["mlflow"]["p50_ms_per_request"] is None and got["mlflow"]["common_rate_req_per_s"] == 12.0
    assert got["tfserving"]["note"] == (
        "not measured: skipped: tensorflow_model_server unavailable on this host"
    )


def test_a_capacity_the_rate_cap_held_is_a_lower_bound(tmp_path: Path, table: price_table.PriceTable) -> None:
    def capped(doc: dict[str, Any]) -> None:
        doc["pairs"]["torchserve/malware/small"]["capacity"]["high"] = None

    ts = rows(with_study(tmp_path, capped), table)["torchserve"]
    assert ts["capacity_lower_bound"] is True
    # The capacity can only be higher: the cost is an upper bound, with no low end.
    assert (
        ts["usd_per_1m_inferences_hi"] == ts["usd_per_1m_inferences"]
        and ts["usd_per_1m_inferences_lo"] is None
    )


def test_a_p99_from_too_few_requests_is_flagged(tmp_path: Path, table: price_table.PriceTable) -> None:
    def short(doc: dict[str, Any]) -> None:
        # mlflow "measured" at 5 req/s, rep 0: 150 requests, fewer than a p99 within an SLO needs.
        doc["pairs"]["mlflow/malware/small"]["capacity"] = {"rate": 5.0, "low": 5.0, "high": 10.0}
        doc["common"]["malware/small"] |= {"rate": 5.0, "reps": [0], "frameworks": ["mlflow"], "excluded": {}}

    ml = rows(with_study(tmp_path, short), table)["mlflow"]
    assert ml["requests_per_percentile_min"] == 150 < tail.least_count()
    assert ml["p99_from_too_few_requests"] is True
    assert ml["p50_ms_per_request_lo"] is None  # one repetition: no interval, never a guess


def test_common_rates_and_how_they_were_chosen(study_data: analysis.RunData) -> None:
    commons = study.common_rates(study_data)
    common = commons[("malware", "small")]
    assert (common.rate, common.reps, common.frameworks) == (12.0, (10, 11, 12), ("torchserve", "mlserver"))
    assert common.sentence() == "12 req/s: 50 % of the lowest capacity, mlserver's 24 req/s"
    assert str(common.keys("mlserver")[0]) == "mlserver/malware small @ 12 req/s rep 10"
    assert study_plan.Common(
        "image", "small", None, 0.5, None, None, (), (), {}, "no framework met it"
    ).sentence() == ("no common rate: no framework met it")


def test_capacity_records_read_from_the_contract() -> None:
    caps = study_plan.capacities({"study": STUDY})
    assert caps[("mlflow", "malware", "small")].bracket() == (0.0, 2.0)
    assert caps[("torchserve", "malware", "small")].bracket() == (50.0, 60.0)
    cut = study_plan.capacities(
        {"study": {"pairs": {"bentoml/image/large": {"capacity": {"outcome": "cut", "why": "Ctrl-C"}}}}}
    )[("bentoml", "image", "large")]
    assert (cut.bracket(), cut.summary(), cut.lower_bound) == (None, "Ctrl-C", False)


def test_a_run_without_a_study_has_no_answer(tmp_path: Path, table: price_table.PriceTable) -> None:
    data = analysis.analyse(write_study_run(tmp_path / "plain", study=False))
    assert not study.has_study(data)
    assert study.answer(data, table).height == 0 and study.common_rates(data) == {}


def test_wrong_outputs_under_load_are_flagged_in_the_answer(
    tmp_path: Path, table: price_table.PriceTable
) -> None:
    run = write_study_run(tmp_path / "study")
    doc = json.loads((run / "manifest.json").read_text())
    (cell,) = [c for c in doc["cells"] if (c["framework"], c["rate"], c["rep"]) == ("mlserver", 12.0, 10)]
    cell["summary"]["outputs"] = {
        "mismatched": 2,
        "compared": 4,
        "first_mismatch": "request 100: parity failed",
    }
    (run / "manifest.json").write_text(json.dumps(doc))
    got = rows(analysis.analyse(run), table)
    assert got["mlserver"]["note"].endswith(
        "WRONG OUTPUTS under load in 1 cell(s) (first at 12 req/s: request 100: parity failed)"
    )
    assert "WRONG" not in (got["torchserve"]["note"] or "")


def test_a_lagging_client_leaves_cpu_per_inference_but_not_latency(
    tmp_path: Path, table: price_table.PriceTable
) -> None:
    run = write_study_run(tmp_path / "study")
    doc = json.loads((run / "manifest.json").read_text())
    for c in doc["cells"]:
        if c["framework"] == "mlserver" and c["rep"] >= 10:
            c["status"], c["reason"] = "invalid", "send-lag p99 3 ms > 1 ms: the client was the bottleneck"
    (run / "manifest.json").write_text(json.dumps(doc))
    row = rows(analysis.analyse(run), table)["mlserver"]
    assert (row["common_reps_counted"], row["common_reps_for_usage"], row["p50_ms_per_request"]) == (
        0,
        3,
        None,
    )
    assert row["server_cpu_s_per_1k_inferences"] == pytest.approx(8.33, abs=0.01)  # as when counted
    assert "no repetition at the common rate counted for latency" in row["note"]
