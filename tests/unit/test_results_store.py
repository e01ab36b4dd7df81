import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError
from kit.results import store
from kit.results.cells import CellKey, rate_label

RAW_SMALL = Path(__file__).parent.parent / "data" / "raw_small"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "golden"
    shutil.copytree(RAW_SMALL, dest)
    return dest


@pytest.mark.parametrize(
    ("rate", "label"), [(50.0, "50"), (50, "50"), (12.5, "12.5"), (0.5, "0.5"), (1e6, "1000000")]
)
def test_rate_label_has_no_trailing_zero_and_no_exponent(rate: float, label: str) -> None:
    assert rate_label(rate) == label


@pytest.mark.parametrize("rate", [0.0, -5.0, float("nan"), float("inf")])
def test_rate_label_refuses_a_rate_that_is_not_one(rate: float) -> None:
    with pytest.raises(ValueError, match="a rate must be a positive number"):
        rate_label(rate)


def test_raw_path_follows_the_layout(tmp_path: Path) -> None:
    path = CellKey("mlserver", "malware", "small", 50.0, 2).raw_path(tmp_path / "r1")
    assert path == tmp_path / "r1" / "raw" / "mlserver" / "malware" / "small" / "50" / "rep2.parquet"


def test_write_raw_round_trips_and_leaves_no_temporary(tmp_path: Path) -> None:
    df = pl.read_parquet(next((RAW_SMALL / "raw").rglob("rep0.parquet")))
    path = CellKey("mlserver", "malware", "small", 50.0, 0).raw_path(tmp_path)
    store.write_raw(df, path)
    assert pl.read_parquet(path).equals(df)
    assert [p.name for p in path.parent.iterdir()] == ["rep0.parquet"]


def test_written_files_follow_the_umask_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store.write_sidecar(tmp_path / "engine.csv", "a,b\n")
    finally:
        os.umask(old)
    assert (tmp_path / "engine.csv").stat().st_mode & 0o777 == 0o644


def test_write_raw_refuses_to_overwrite(run: Path) -> None:
    path = CellKey("mlserver", "malware", "small", 50.0, 1).raw_path(run)
    before = path.read_bytes()
    with pytest.raises(KitError) as info:
        store.write_raw(pl.DataFrame({"a": [1]}), path)
    assert info.value.what == f"raw file {path} exists already: raw files are never rewritten"
    assert info.value.hint == "Bench into a new run (the default), or move the old run away first"
    assert path.read_bytes() == before


def test_a_file_that_appears_mid_write_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "rep0.parquet"

    def racing_write(self: pl.DataFrame, file: Path, *args: object, **kwargs: object) -> None:
        target.write_bytes(b"the other writer's rows")
        Path(file).write_bytes(b"ours")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", racing_write)
    with pytest.raises(KitError, match="exists already"):
        store.write_raw(pl.DataFrame({"a": [1]}), target)
    assert target.read_bytes() == b"the other writer's rows"
    assert [p.name for p in tmp_path.iterdir()] == ["rep0.parquet"]


def test_sidecar_keeps_tool_output_as_captured_and_once(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "cell.vegeta.jsonl"
    store.write_sidecar(path, '{"code":200}\n')
    store.write_sidecar(tmp_path / "raw" / "cell.bin", b"\x00\x01")
    assert path.read_text() == '{"code":200}\n'
    assert (tmp_path / "raw" / "cell.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(KitError, match="tool output .* exists already: tool outputs are never rewritten"):
        store.write_sidecar(path, "again")
    assert path.read_text() == '{"code":200}\n'


def test_scan_raw_reads_every_cell_and_ignores_what_is_not_a_raw_file(run: Path) -> None:
    cell_dir = run / "raw" / "mlserver" / "malware" / "small" / "50"
    (cell_dir / ".rep2.parquet.123.abcd.partial").write_bytes(b"PAR1 half a file")
    (cell_dir / "golden-mlserver-malware-small-50-rep0.engine.csv").write_text("phase,seq\n")
    lf = store.scan_raw(run)
    assert isinstance(lf, pl.LazyFrame)
    counts = lf.group_by("rep", "phase").len().sort("rep", "phase").collect()
    assert counts.rows() == [(0, "measure", 250), (0, "warmup", 40), (1, "measure", 250), (1, "warmup", 40)]


def test_scan_raw_reads_a_run_folder_whose_name_looks_like_a_glob(run: Path) -> None:
    odd = run.rename(run.parent / "golden [copy]*")
    assert store.scan_raw(odd).select("seq").collect().height == 580


def test_scan_raw_of_a_run_without_rows_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "r7" / "raw").mkdir(parents=True)
    with pytest.raises(KitError) as info:
        store.scan_raw(tmp_path / "r7")
    assert info.value.what == f"run r7 has no raw rows under {tmp_path / 'r7' / 'raw'}"
    assert info.value.hint == "Bench first (`kit bench FRAMEWORK SCENARIO`), or check the run id"
