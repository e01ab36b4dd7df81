"""kit/load/engine_rows.py: the engine's CSV, captured from real runs and written by hand, into raw rows."""

from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError
from kit.load.engine_rows import rows_from_engine_csv, summary_from_stdout
from kit.results.cells import CellKey
from kit.results.schema import RAW_SCHEMA

HEADER = "phase,seq,intended_ns,sent_ns,done_ns,code,bytes_out,bytes_in,error\n"
ROWS = (  # completion order, as the engine writes them
    "measure,2,1000000300,1000000310,1000000900,500,8,4,boom\n"
    "warmup,0,1000000100,1000000105,1000000200,200,8,12,\n"
    'measure,1,1000000200,1000000201,1000000700,0,8,0,"ClientConnectorError: Cannot connect, refused"\n'
)
CELL = {
    "run_id": "r1",
    "framework": "mlserver",
    "scenario": "malware",
    "payload": "small",
    "rate": 50,
    "rep": 1,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "out.csv"
    path.write_text(text)
    return path


def test_engine_rows_become_raw_rows(tmp_path: Path) -> None:
    df = rows_from_engine_csv(write(tmp_path, HEADER + ROWS), **CELL)
    assert df.schema == pl.Schema(RAW_SCHEMA)
    assert df["seq"].to_list() == [0, 1, 2]  # sorted, whatever the completion order
    assert df["latency_ns"].to_list() == [100, 500, 600] and df["service_ns"].to_list() == [95, 499, 590]
    assert df["error"].to_list() == [None, "ClientConnectorError: Cannot connect, refused", "boom"]
    assert df["code"].to_list() == [200, 0, 500] and df["phase"].to_list() == ["warmup", "measure", "measure"]
    assert df.select(
        "run_id", "framework", "scenario", "payload", "rate", "rep", "engine"
    ).unique().rows() == [("r1", "mlserver", "malware", "small", 50.0, 1, "kit")]


def test_a_run_interrupted_before_t0_gives_no_rows(tmp_path: Path) -> None:
    df = rows_from_engine_csv(write(tmp_path, HEADER), **CELL)
    assert df.height == 0 and df.schema == pl.Schema(RAW_SCHEMA)


def test_a_missing_file_is_a_kit_error(tmp_path: Path) -> None:
    with pytest.raises(KitError) as info:
        rows_from_engine_csv(tmp_path / "absent.csv", **CELL)
    assert "is missing" in info.value.what and "ssh log" in info.value.hint


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (HEADER + ROWS[:-20], "the last row is cut off"),
        (HEADER + "measure,3,1,2\n", "1 row(s) lack fields"),
        (HEADER + ROWS + ROWS.splitlines(keepends=True)[0], "a seq appears twice"),
        ("phase,seq,intended_ns\nmeasure,1,\n", "header is 'phase,seq,intended_ns'"),
        ("", "header is ''"),
        (HEADER + "measure,x,1,2,3,200,8,4,\n", "could not parse"),
    ],
)
def test_a_truncated_or_corrupt_file_is_a_kit_error(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(KitError) as info:
        rows_from_engine_csv(write(tmp_path, text), **CELL)
    assert "is truncated or corrupt" in info.value.what and why in info.value.what and info.value.hint


def test_the_summary_is_the_last_json_line() -> None:
    assert summary_from_stdout('noise {\n{"sent": 3}\n\n') == {"sent": 3}
    for text in ("Traceback (most recent call last): ...", '{"sent": 3, "per_pha'):
        with pytest.raises(KitError) as info:
            summary_from_stdout(text)
        assert info.value.what == "the load engine printed no summary" and "stderr" in info.value.hint


# --- a captured real run ---------------------------------------------------------------------
SMOKE_CELL = CellKey("mlserver", "malware", "small", 50, 0)


def captured_rows(run: Path, run_id: str) -> pl.DataFrame:
    """The captured smoke run's engine CSV turned into raw rows, as the bench does."""
    csv_path = next((run / "raw").rglob("*.engine.csv"))
    return rows_from_engine_csv(csv_path, run_id=run_id, **SMOKE_CELL.as_dict())


def test_a_captured_engine_csv_becomes_raw_rows(smoke_run: Path) -> None:
    df = captured_rows(smoke_run, "r")
    assert df.schema == pl.Schema(RAW_SCHEMA)
    assert df.height == 350 and df["engine"].unique().to_list() == ["kit"]
    assert (df["latency_ns"] == df["done_ns"] - df["intended_ns"]).all()
    assert (df["service_ns"] == df["done_ns"] - df["sent_ns"]).all()
    assert df["error"].null_count() == df.height  # no errors in this run: empty strings became nulls


def test_matches_the_committed_parquet(smoke_run: Path) -> None:
    df = captured_rows(smoke_run, "20261128-145612-09d9")
    assert df.equals(pl.read_parquet(SMOKE_CELL.raw_path(smoke_run)))
