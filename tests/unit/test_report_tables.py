from pathlib import Path

import polars as pl

from kit.report.tables import cell_status_lines, summary_table

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


def test_summary_table_matches_golden() -> None:
    # From the golden summary, not from aggregate: the table is pinned on its own.
    summary = pl.read_csv(GOLDEN / "raw_small_summary.csv")
    assert summary_table(summary) == (GOLDEN / "raw_small_table.md").read_text()


def test_a_missing_value_shows_as_a_dash_and_fractional_rates_keep_their_digits() -> None:
    summary = pl.read_csv(GOLDEN / "raw_small_summary.csv").head(1)
    summary = summary.with_columns(pl.lit(12.5).alias("rate"), pl.lit(None, pl.Float64).alias("p99_ms"))
    row = summary_table(summary).splitlines()[2]
    assert (
        row
        == "| mlserver | malware | small | 12.5 | 0 | 250 | 4.17 | 5.35 | - | 2000.04 | 12.22 | 50.0 | 5 | yes |"
    )


def test_an_empty_summary_is_a_header_only_table() -> None:
    summary = pl.read_csv(GOLDEN / "raw_small_summary.csv").clear()
    assert len(summary_table(summary).splitlines()) == 2


def test_status_lines_name_every_cell_that_did_not_end_ok() -> None:
    key = {"framework": "mlserver", "scenario": "malware", "payload": "small", "rep": 0}
    cells = [
        {**key, "rate": 50.0, "status": "ok", "reason": ""},
        {**key, "rate": 50, "status": "failed", "reason": "host srv-mlserver did not answer"},
        {**key, "rate": 12.5, "rep": 2, "status": "partial", "reason": ""},
    ]
    assert cell_status_lines(cells) == (
        "- mlserver/malware small @ 50 req/s rep 0: **failed**: host srv-mlserver did not answer\n"
        "- mlserver/malware small @ 12.5 req/s rep 2: **partial**: no reason recorded\n"
    )
    assert cell_status_lines(cells[:1]) == ""
