from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError
from kit.load.engine_rows import rows_from_engine_csv, summary_from_stdout
from kit.results.schema import RAW_SCHEMA


def engine_csv(run: Path) -> Path:
    return next((run / "raw").rglob("*.engine.csv"))


def test_engine_csv_becomes_raw_rows(smoke_run: Path) -> None:
    df = rows_from_engine_csv(
        engine_csv(smoke_run),
        run_id="r",
        framework="mlserver",
        scenario="malware",
        payload="small",
        rate=50,
        rep=0,
    )
    assert df.schema == pl.Schema(RAW_SCHEMA)
    assert df.height == 350 and df["engine"].unique().to_list() == ["kit"]
    assert (df["latency_ns"] == df["done_ns"] - df["intended_ns"]).all()
    assert (df["service_ns"] == df["done_ns"] - df["sent_ns"]).all()
    assert df["error"].null_count() == df.height  # no errors in this run: empty strings became nulls


def test_matches_the_committed_parquet(smoke_run: Path) -> None:
    df = rows_from_engine_csv(
        engine_csv(smoke_run),
        run_id="20261128-145612-09d9",
        framework="mlserver",
        scenario="malware",
        payload="small",
        rate=50,
        rep=0,
    )
    committed = pl.read_parquet(smoke_run / "raw/mlserver/malware/small/50/rep0.parquet")
    assert df.equals(committed)


def test_truncated_csv(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("phase,seq,intended_ns\nmeasure,1,")
    with pytest.raises(KitError, match="truncated or corrupt"):
        rows_from_engine_csv(bad, run_id="r", framework="f", scenario="s", payload="small", rate=1, rep=0)


def test_summary_line() -> None:
    assert summary_from_stdout('noise\n{"sent": 3}\n') == {"sent": 3}
    with pytest.raises(KitError) as info:
        summary_from_stdout("Traceback ...")
    assert info.value.what == "the load engine printed no summary"
