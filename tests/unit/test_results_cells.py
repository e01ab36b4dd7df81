"""kit/results/cells.py: a cell's identity and the names of its files."""

from __future__ import annotations

from pathlib import Path

from kit.results.cells import FIELDS, CellKey


def test_a_cell_names_its_files() -> None:
    key = CellKey("mlserver", "malware", "small", 12.5, 2)
    run = Path("/r/20261201-1")
    assert key.raw_path(run) == run / "raw/mlserver/malware/small/12.5/rep2.parquet"
    assert key.telemetry_path(run) == run / "telemetry/mlserver/malware/small/12.5/rep2.parquet"
    assert key.id("20261201-1") == "20261201-1-mlserver-malware-small-12.5-rep2"
    assert CellKey("mlserver", "malware", "small", 50, 0).id("r") == "r-mlserver-malware-small-50-rep0"


def test_the_same_cell_from_json_from_a_path_and_typed() -> None:
    typed = CellKey("torchserve", "image", "large", 50.0, 1)
    from_json = CellKey.of(
        {
            "framework": "torchserve",
            "scenario": "image",
            "payload": "large",
            "rate": 50,
            "rep": 1,
            "status": "ok",
        }
    )
    run = Path("/r")
    assert typed == from_json and hash(typed) == hash(from_json)
    assert CellKey.from_path(run / "raw", typed.raw_path(run)) == typed
    assert typed.as_dict() == dict(zip(FIELDS, ("torchserve", "image", "large", 50.0, 1), strict=True))
    assert typed.group == ("torchserve", "image", "large", 50.0) and typed.pair == ("torchserve", "image")


def test_a_path_that_is_not_a_cells_is_none() -> None:
    assert CellKey.from_path(Path("/r/raw"), Path("/r/raw/mlserver/malware/small/fast/rep0.parquet")) is None
    assert CellKey.from_path(Path("/r/raw"), Path("/r/raw/mlserver/malware/rep0.parquet")) is None
