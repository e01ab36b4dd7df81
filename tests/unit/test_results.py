import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kit.results import aggregate, manifest, store

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


def test_summary_of_the_captured_run_matches_golden(smoke_run: Path) -> None:
    got = aggregate.summarize(store.scan_raw(smoke_run))
    want = pl.read_csv(GOLDEN / "smoke_summary.csv")
    assert got.columns == want.columns
    for col in want.columns:
        if want[col].dtype.is_float():
            assert got[col].to_list() == pytest.approx(want[col].to_list(), rel=1e-9), col
        else:
            assert got[col].cast(pl.String).to_list() == want[col].cast(pl.String).to_list(), col


def test_warmup_rows_are_never_counted(smoke_run: Path) -> None:
    rows = store.scan_raw(smoke_run).collect()
    assert rows.filter(pl.col("phase") == "warmup").height == 100
    assert aggregate.summarize(rows.lazy())["requests"].to_list() == [250]


def test_slow_client_makes_a_cell_invalid(smoke_run: Path) -> None:
    rows = store.scan_raw(smoke_run).collect().with_columns(pl.col("sent_ns") + 2_000_000)
    s = aggregate.summarize(rows.lazy()).row(0, named=True)
    assert s["valid"] is False
    assert s["invalid_reason"].startswith("send-lag p99 2.") and s["invalid_reason"].endswith(
        "ms > 1 ms: the client was the bottleneck"
    )


def test_short_rate_makes_a_cell_invalid(smoke_run: Path) -> None:
    rows = store.scan_raw(smoke_run).collect()
    measured = rows.filter(pl.col("phase") == "measure")
    thinned = measured.filter(pl.col("seq") % 10 != 0)  # 10 % of the requests never sent
    s = aggregate.summarize(thinned.lazy()).row(0, named=True)
    assert s["valid"] is False and s["invalid_reason"].startswith("achieved rate 45.")


def test_errors_are_counted_not_dropped(smoke_run: Path) -> None:
    rows = (
        store.scan_raw(smoke_run)
        .collect()
        .with_columns(
            pl.when(pl.col("seq") % 5 == 0).then(0).otherwise(pl.col("code")).cast(pl.Int32).alias("code")
        )
    )
    s = aggregate.summarize(rows.lazy()).row(0, named=True)
    assert (s["requests"], s["errors"], s["error_rate"]) == (250, 50, 0.2)


def test_golden_p50_agrees_with_numpy(smoke_run: Path) -> None:
    rows = store.scan_raw(smoke_run).collect().filter(pl.col("phase") == "measure")
    p50 = float(np.percentile(rows["latency_ns"].to_numpy(), 50)) / 1e6
    assert aggregate.summarize(rows.lazy())["p50_ms"][0] == pytest.approx(p50, rel=1e-12)


def test_report_from_a_copied_run(smoke_run: Path, tmp_path: Path) -> None:
    from kit.report.build import build_report

    laptop = tmp_path / "laptop" / "run"
    shutil.copytree(smoke_run, laptop)
    files = build_report(laptop).files
    assert [f.name for f in files][:2] == ["report.md", "report.html"]
    assert (laptop / "report" / "latency_cdf_malware_small.png").read_bytes()[:4] == b"\x89PNG"
    assert (laptop / "report" / "report.md").read_text() == (GOLDEN / "smoke_report.md").read_text()


def test_report_lists_cells_that_did_not_end_ok(smoke_run: Path) -> None:
    from kit.report.build import build_report

    man = manifest.load(smoke_run)
    manifest.update_cell(
        man,
        {
            "framework": "mlserver",
            "scenario": "malware",
            "payload": "large",
            "rate": 50.0,
            "rep": 0,
            "status": "failed",
            "reason": "host srv-mlserver did not answer",
        },
    )
    manifest.save(smoke_run, man)
    text = build_report(smoke_run).files[0].read_text()
    assert "- mlserver/malware large @ 50 req/s rep 0: **failed**: host srv-mlserver did not answer" in text
