from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kit.results import aggregate, repetitions, store
from kit.results.cells import CellKey
from kit.results.schema import conform

DATA = Path(__file__).parent.parent / "data"
RAW_SMALL = DATA / "raw_small"
GOLDEN = DATA / "golden" / "raw_small_summary.csv"


def _rows() -> pl.DataFrame:
    return store.scan_raw(RAW_SMALL).collect()


def _cell(
    n: int = 100, rate: float = 100.0, lag_ns: int = 50_000, codes: list[int | None] | None = None
) -> pl.DataFrame:
    """A synthetic constant-rate cell of n measured requests, each served in 2 ms."""
    gap = int(1e9 / rate)
    intended = [1_000_000_000 + i * gap for i in range(n)]
    sent = [t + lag_ns for t in intended]
    done = [t + 2_000_000 for t in sent]
    return conform(
        pl.DataFrame(
            {
                "run_id": "t",
                "framework": "mlserver",
                "scenario": "malware",
                "payload": "small",
                "rate": rate,
                "rep": 0,
                "phase": "measure",
                "seq": list(range(n)),
                "intended_ns": intended,
                "sent_ns": sent,
                "done_ns": done,
                "latency_ns": [d - i for d, i in zip(done, intended, strict=True)],
                "service_ns": [d - s for d, s in zip(done, sent, strict=True)],
                "code": codes or [200] * n,
                "bytes_out": 10,
                "bytes_in": 10,
                "error": None,
                "engine": "kit",
            },
            schema_overrides={"error": pl.String, "code": pl.Int32},
        )
    )


def test_summaries_of_the_committed_run_match_golden() -> None:
    got = aggregate.summarize(store.scan_raw(RAW_SMALL))
    want = pl.read_csv(GOLDEN)
    assert got.columns == want.columns
    for col in want.columns:
        if want[col].dtype.is_float():
            assert got[col].to_list() == pytest.approx(want[col].to_list(), rel=1e-9, abs=1e-9), col
        else:
            assert got[col].cast(pl.String).to_list() == want[col].cast(pl.String).fill_null("").to_list(), (
                col
            )


def test_quantiles_are_numpys_linear_ones() -> None:
    rows = _rows().filter(pl.col("phase") == "measure")
    got = aggregate.summarize(rows.lazy())
    for rep in (0, 1):
        lat_ms = rows.filter(pl.col("rep") == rep)["latency_ns"].to_numpy() / 1e6
        row = got.filter(pl.col("rep") == rep).row(0, named=True)
        for name, q in aggregate.LATENCY_QUANTILES.items():
            assert row[f"{name}_ms"] == pytest.approx(np.percentile(lat_ms, 100 * q), rel=1e-12), (rep, name)
        assert row["mean_ms"] == pytest.approx(lat_ms.mean(), rel=1e-12)


def test_warmup_rows_are_never_counted() -> None:
    rows = _rows()
    assert rows.filter(pl.col("phase") == "warmup").height == 80
    # Wildly different warm-up rows (slow, failing, late) must not move a single figure.
    noisy = rows.with_columns(
        pl.when(pl.col("phase") == "warmup").then(pl.lit(10**12)).otherwise(pl.col(c)).alias(c)
        for c in ("latency_ns", "service_ns", "sent_ns")
    ).with_columns(
        pl.when(pl.col("phase") == "warmup").then(0).otherwise(pl.col("code")).cast(pl.Int32).alias("code")
    )
    assert aggregate.summarize(noisy.lazy()).equals(aggregate.summarize(rows.lazy()))
    assert aggregate.summarize(rows.lazy())["requests"].to_list() == [250, 250]


def test_transport_failures_server_errors_and_missing_codes_are_all_errors() -> None:
    codes: list[int | None] = [200, 204, 299, 0, 0, 500, 503, 404, 302, None]
    s = aggregate.summarize(_cell(n=10, codes=codes).lazy()).row(0, named=True)
    assert (s["requests"], s["ok"], s["errors"], s["error_rate"]) == (10, 3, 7, 0.7)


def test_failed_requests_count_in_the_latency_tail() -> None:
    # rep 0 holds one 2 s timeout: it is the max, and it drags the mean, as the user lived it.
    s = aggregate.summarize(store.scan_raw(RAW_SMALL)).row(0, named=True)
    assert s["max_ms"] == pytest.approx(2000.040456)
    assert s["mean_ms"] > 2 * s["p99_ms"]


def test_a_perfect_constant_rate_cell_achieves_its_rate_and_is_valid() -> None:
    s = aggregate.summarize(_cell(n=100, rate=100.0).lazy()).row(0, named=True)
    assert s["achieved_rate"] == pytest.approx(100.0)
    assert (s["valid"], s["invalid_reason"]) == (True, "")


def test_a_late_client_makes_a_cell_invalid() -> None:
    s = aggregate.summarize(store.scan_raw(RAW_SMALL)).row(1, named=True)
    assert (s["rep"], s["valid"]) == (1, False)
    assert s["invalid_reason"] == "send-lag p99 1.87 ms > 1 ms: the client was the bottleneck"


def test_an_unmet_rate_makes_a_cell_invalid() -> None:
    thinned = _cell(n=100).filter(pl.col("seq") % 10 != 0)  # 10 % never sent
    s = aggregate.summarize(thinned.lazy()).row(0, named=True)
    assert s["achieved_rate"] == pytest.approx(90 / 0.99)  # window: first to last intended + one gap
    assert s["valid"] is False
    assert s["invalid_reason"] == (
        "achieved rate 90.9 req/s < 99% of the 100.0 req/s scheduled: the client was the bottleneck"
    )


def test_both_reasons_are_given_when_both_apply() -> None:
    cell = _cell(n=100, lag_ns=3_000_000).filter(pl.col("seq") % 10 != 0)
    s = aggregate.summarize(cell.lazy()).row(0, named=True)
    assert s["invalid_reason"] == (
        "send-lag 3.0 ms (second-worst of 90 sends) > 1 ms and achieved rate 90.9 req/s < 99% of the "
        "100.0 req/s scheduled: the client was the bottleneck"
    )


def test_the_limits_themselves_are_still_valid() -> None:
    # send lag of exactly 1 ms, and 99 of 100 requests (99 % of the target within the same window).
    at_limit = _cell(n=100, lag_ns=1_000_000).filter(pl.col("seq") != 50)
    s = aggregate.summarize(at_limit.lazy()).row(0, named=True)
    assert s["send_lag_p99_ms"] == pytest.approx(1.0)
    assert s["achieved_rate"] == pytest.approx(99.0)
    assert s["valid"] is True


def test_cells_come_out_sorted_and_no_rows_give_an_empty_summary() -> None:
    cells = pl.concat([_cell(rate=200.0), _cell(rate=100.0).with_columns(pl.lit(1, pl.Int32).alias("rep"))])
    got = aggregate.summarize(cells.lazy())
    assert got.select("rate", "rep").rows() == [(100.0, 1), (200.0, 0)]
    empty = aggregate.summarize(_cell().filter(pl.lit(False)).lazy())
    assert empty.height == 0 and empty.columns == got.columns


def test_cell_stats_extra_figures_are_numpys() -> None:
    rows = _rows().filter(pl.col("phase") == "measure")
    got = aggregate.cell_stats(rows.lazy())
    assert got.columns == aggregate.CELL_STATS
    for rep in (0, 1):
        part = rows.filter(pl.col("rep") == rep)
        lat = part["latency_ns"].to_numpy() / 1e6
        lag = (part["sent_ns"] - part["intended_ns"]).to_numpy() / 1e6
        row = got.filter(pl.col("rep") == rep).row(0, named=True)
        assert row["p95_ms"] == pytest.approx(np.percentile(lat, 95), rel=1e-12)
        assert row["p999_ms"] == pytest.approx(np.percentile(lat, 99.9), rel=1e-12)
        assert row["service_p99_ms"] == pytest.approx(np.percentile(part["service_ns"].to_numpy() / 1e6, 99))
        assert row["send_lag_p50_ms"] == pytest.approx(np.percentile(lag, 50), rel=1e-12)
        assert row["send_lag_max_ms"] == pytest.approx(lag.max(), rel=1e-12)
        # goodput: 2xx replies over the same window as the achieved rate
        assert row["ok_rate"] == pytest.approx(row["achieved_rate"] * row["ok"] / row["requests"])


def test_cell_stats_agree_with_the_compact_summary() -> None:
    full = aggregate.cell_stats(store.scan_raw(RAW_SMALL))
    compact = aggregate.summarize(store.scan_raw(RAW_SMALL))
    assert full.select(compact.columns).equals(compact)


def test_a_run_aggregated_in_batches_equals_one_query(tmp_path: Path) -> None:
    files, problems = store.inspect_raw(RAW_SMALL)
    assert problems == [] and [f.rows for f in files] == [290, 290]
    whole = aggregate.cell_stats(store.scan_raw(RAW_SMALL))
    for batch_rows in (1, 290, 10**9):  # one file per batch, exactly one, all in one
        got, damaged = aggregate.run_cell_stats(files, batch_rows=batch_rows)
        assert damaged == []
        assert_frame_equal(got, whole, check_exact=False, rel_tol=1e-12)


def test_a_file_damaged_past_its_footer_leaves_out_its_cell_only(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for rep in (0, 1):
        df = _cell(n=50).with_columns(pl.lit(rep, pl.Int32).alias("rep"))
        store.write_raw(df, CellKey("mlserver", "malware", "small", 100.0, rep).raw_path(run))
    files, _ = store.inspect_raw(run)
    target = files[1].path
    data = bytearray(target.read_bytes())
    data[4:200] = b"\x00" * 196  # the pages, not the footer: the file opens, its columns do not decode
    target.write_bytes(bytes(data))
    got, damaged = aggregate.run_cell_stats(files)
    assert got["rep"].to_list() == [0]
    assert len(damaged) == 1 and damaged[0].startswith(f"raw file {target} is damaged (")
    assert damaged[0].endswith("): its cell is left out")


def test_across_reps_mean_and_student_t_interval_by_hand() -> None:
    cells = pl.DataFrame(
        {
            "framework": ["mlserver"] * 4,
            "scenario": ["malware"] * 4,
            "payload": ["small"] * 4,
            "rate": [50.0] * 4,
            "rep": [0, 1, 2, 3],
            "p50_ms": [10.0, 12.0, 14.0, 99.0],
            "valid": [True, True, True, False],  # the invalid repetition is not counted
        }
    )
    got = repetitions.across_reps(cells, ["p50_ms"]).row(0, named=True)
    half = 4.302652729911275 * 2.0 / np.sqrt(3)  # t(0.975, 2) * s / sqrt(n), s = 2
    assert (got["reps"], got["reps_counted"]) == (4, 3)
    assert got["p50_ms"] == pytest.approx(12.0)
    assert (got["p50_ms_lo"], got["p50_ms_hi"]) == (pytest.approx(12 - half), pytest.approx(12 + half))


def test_across_reps_gives_no_interval_below_two_counted_reps() -> None:
    cells = aggregate.cell_stats(store.scan_raw(RAW_SMALL))
    got = repetitions.across_reps(cells).row(0, named=True)
    assert (got["reps"], got["reps_counted"]) == (2, 1)  # rep 1 is invalid (send lag)
    assert got["p50_ms"] == pytest.approx(cells["p50_ms"][0])
    assert got["p50_ms_lo"] is None and got["p50_ms_hi"] is None


def test_across_reps_of_no_cells_is_empty_with_its_columns() -> None:
    empty = aggregate.cell_stats(_cell().filter(pl.lit(False)).lazy())
    got = repetitions.across_reps(empty)
    assert got.height == 0 and {"p50_ms", "p50_ms_lo", "p50_ms_hi", "reps_counted"} <= set(got.columns)


def test_latency_profiles_box_and_cdf_are_numpys() -> None:
    files, _ = store.inspect_raw(RAW_SMALL)
    (profile,) = repetitions.latency_profiles({("mlserver", "malware", "small", 50.0): [files[0].path]})
    lat = np.sort(_rows().filter((pl.col("phase") == "measure") & (pl.col("rep") == 0))["latency_ns"] / 1e6)
    q1, med, q3 = np.percentile(lat, [25, 50, 75])
    assert (profile["q1"], profile["med"], profile["q3"]) == (
        pytest.approx(q1),
        pytest.approx(med),
        pytest.approx(q3),
    )
    inside = lat[(lat >= q1 - 1.5 * (q3 - q1)) & (lat <= q3 + 1.5 * (q3 - q1))]
    assert (
        profile["whishi"] == pytest.approx(inside.max()) and profile["whishi"] < 10
    )  # the 2 s timeout is out
    assert profile["beyond_whiskers"] == lat.size - inside.size > 0
    assert profile["cdf_ms"][0] == pytest.approx(lat[0]) and profile["cdf_ms"][-1] == pytest.approx(lat[-1])
    assert profile["requests"] == 250
