"""kit/results/analysis.py: a run read whole, and damage stepped around but listed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from kit import __version__
from kit.errors import KitError
from kit.results import analysis, store
from kit.results.cells import CellKey
from kit.results.schema import META_KIT_VERSION, META_SCHEMA_VERSION

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "golden"
    shutil.copytree(DATA / "raw_small", dest)
    return dest


def rep_file(run: Path, rep: int) -> Path:
    return CellKey("mlserver", "malware", "small", 50.0, rep).raw_path(run)


def test_the_committed_run(run: Path) -> None:
    data = analysis.analyse(run)
    assert (data.run_id, data.problems) == ("golden", [])
    # rep 0: 5 of its 250 measured requests failed. Its manifest (written before the overload rule)
    # says ok; the report shows it overloaded, from its rows, and says why it differs.
    assert data.notes == [
        "1 cell the manifest records `ok` had more than 1 % of its measured requests fail (a kit before "
        "the overload rule wrote the manifest): shown as `overloaded` and not counted"
    ]
    assert data.cells.select("rep", "status", "valid", "counted").rows() == [
        (0, "overloaded", True, False),
        (1, "invalid", False, False),
    ]
    assert data.cells["reason"][0] == (
        "5/250 measured requests failed (2.0 %, over the 1 % a counted cell may lose)"
    )
    assert data.groups.select("reps", "reps_counted", "reps_overloaded").rows() == [(2, 0, 1)]
    assert data.scenarios == ["malware"]
    assert data.group_files() == {}
    assert data.group_files(only_counted=False) == {
        ("mlserver", "malware", "small", 50.0): [rep_file(run, 0), rep_file(run, 1)]
    }
    assert data.group_marks() == {("mlserver", "malware", "small", 50.0): analysis.OVERLOADED}
    assert [(c["rep"], c["payload"], c["status"]) for c in data.cell_records()] == [
        (0, "small", "overloaded"),
        (1, "small", "invalid"),
        (0, "medium", "failed"),
        (0, "large", "skipped"),
    ]


def test_a_cell_of_few_errors_still_counts(run: Path) -> None:
    """The rule is more than 1 %: a manifest `ok` cell with 2 failures in 250 is counted."""
    path = rep_file(run, 0)
    rows = pl.read_parquet(path)
    fixed = rows.with_columns(
        pl.when(pl.col("seq").is_in([121, 203, 260]))
        .then(200)
        .otherwise(pl.col("code"))
        .cast(pl.Int32)
        .alias("code")
    )
    path.unlink()  # raw files are never overwritten: this one is replaced by hand
    store.write_raw(fixed, path)
    data = analysis.analyse(run)
    assert data.notes == []
    assert data.cells.select("rep", "status", "errors", "counted").rows()[0] == (0, "ok", 2, True)
    assert data.group_marks() == {("mlserver", "malware", "small", 50.0): analysis.COUNTED}


def test_without_a_manifest_the_rows_decide_what_counts(run: Path) -> None:
    (run / "manifest.json").unlink()
    data = analysis.analyse(run)
    assert data.manifest is None and data.run_id == "golden"
    assert data.problems == [
        f"{run / 'manifest.json'} is missing: no run facts, cell statuses or cost; "
        "figures come from the raw rows alone"
    ]
    # rep 0's rows lost 2 % of its requests (overloaded), rep 1's are invalid: neither counts.
    assert data.cells["counted"].to_list() == [False, False]


def test_a_corrupt_manifest_is_a_problem_and_the_rows_are_still_read(run: Path) -> None:
    (run / "manifest.json").write_text("{not json")
    data = analysis.analyse(run)
    assert data.problems[0].startswith(f"{run / 'manifest.json'} is corrupt (")
    assert data.cells.height == 2


def test_a_truncated_raw_file_is_left_out_and_named(run: Path) -> None:
    target = rep_file(run, 1)
    target.write_bytes(target.read_bytes()[:300])
    data = analysis.analyse(run)
    assert data.cells["rep"].to_list() == [0]
    assert data.problems == [
        f"raw file {target} is unreadable (truncated or not parquet: "
        "parquet: File out of specification: The file must end with PAR1 or PARE)",
        "mlserver/malware small @ 50 req/s rep 1: invalid in the manifest, but its raw rows are missing "
        "or unreadable",
    ]


def test_a_missing_raw_file_of_a_measured_cell_is_named(run: Path) -> None:
    rep_file(run, 0).unlink()
    data = analysis.analyse(run)
    assert data.problems == [
        "mlserver/malware small @ 50 req/s rep 0: ok in the manifest, but its raw rows are missing or unreadable"
    ]
    assert data.groups.select("reps", "reps_counted").rows() == [(1, 0)]


def test_a_run_whose_cells_all_failed_says_why(run: Path) -> None:
    shutil.rmtree(run / "raw")
    data = analysis.analyse(run)
    assert data.cells.height == 0 and data.groups.height == 0
    assert data.problems[0] == (
        "run golden has no measured rows: 3 cell(s) did not end ok (first: mlserver/malware small: "
        "invalid, send-lag p99 1.87 ms > 1 ms: the client was the bottleneck)"
    )


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KitError) as info:
        analysis.analyse(tmp_path)
    assert info.value.what == f"{tmp_path} has neither a readable manifest nor a readable raw file"


def test_a_raw_file_of_an_unknown_schema_version_stops_the_reading(run: Path) -> None:
    target = rep_file(run, 1)
    df = pl.read_parquet(target)
    target.unlink()
    df.write_parquet(target, metadata={META_SCHEMA_VERSION: "2", META_KIT_VERSION: "0.4.0"})
    with pytest.raises(KitError) as info:
        analysis.analyse(run)
    assert info.value.what == f"{target} has schema_version 2; this kit (version {__version__}) reads 1"
    assert info.value.hint == "Use the kit version that wrote it (0.4.0, per the file)"


def test_raw_files_carry_their_schema_version(tmp_path: Path) -> None:
    target = tmp_path / "rep0.parquet"
    store.write_raw(pl.read_parquet(rep_file(DATA / "raw_small", 0)), target)
    meta = pl.read_parquet_metadata(target)
    assert (meta[META_SCHEMA_VERSION], meta[META_KIT_VERSION]) == ("1", __version__)


def test_not_measured_reasons(run: Path) -> None:
    doc = json.loads((run / "manifest.json").read_text())
    doc["cells"].append(
        {**doc["cells"][3], "framework": "torchserve", "status": "skipped", "reason": "no GPU host"}
    )
    (run / "manifest.json").write_text(json.dumps(doc))
    data = analysis.analyse(run)
    assert analysis.not_measured_reason(data, "torchserve", "malware") == "skipped: no GPU host"
    assert analysis.not_measured_reason(data, "tfserving", "malware") == "not in this run"
    rep_file(run, 0).unlink()  # mlserver is left with its invalid repetition only
    data = analysis.analyse(run)
    assert analysis.not_measured_reason(data, "mlserver", "malware") == "no counted repetition (invalid)"


@pytest.mark.parametrize("version", [True, 2, "2", None, 1.5])
def test_only_the_known_schema_version_is_read(run: Path, version: object) -> None:
    doc = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**doc, "schema_version": version}))
    with pytest.raises(KitError, match="has schema_version"):
        analysis.analyse(run)
