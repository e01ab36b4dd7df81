"""A full results disk, for real (a small tmpfs filled to the last byte): every writer of a run gives
a clear error and leaves no half-written file, and a file written before stays whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import polars as pl
import pytest

from kit import proc
from kit.errors import DiskFullError, KitError
from kit.report.build import build_report
from kit.results import manifest, store
from kit.results.cells import CellKey
from kit.telemetry import frames

DATA = Path(__file__).parent.parent / "data"
Disk = Callable[[Path, str], AbstractContextManager[Path]]
Fill = Callable[[Path], int]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name != "filler")


def test_raw_rows_and_tool_output_on_a_full_disk(tmp_path: Path, small_disk: Disk, fill: Fill) -> None:
    rows = pl.read_parquet(store.raw_files(DATA / "runs" / "smoke")[0])
    with small_disk(tmp_path / "results", "1m") as disk:
        target = CellKey("mlserver", "malware", "small", 50.0, 0).raw_path(disk / "run")
        fill(disk)
        with pytest.raises(DiskFullError) as info:
            store.write_raw(rows, target)
        assert info.value.what == f"could not write {target}: No space left on device (the disk is full)"
        assert info.value.hint == "Free some disk space and rerun; nothing half-written was left behind"
        with pytest.raises(DiskFullError):
            store.write_sidecar(target.with_name("c.engine.csv"), "phase,seq\n" * 10_000)
        assert leftovers(disk) == []
        (disk / "filler").unlink()
        store.write_raw(rows, target)  # with room again, the same write succeeds
        assert pl.read_parquet(target).equals(rows)


def test_the_manifest_as_last_saved_survives_a_full_disk(
    tmp_path: Path, small_disk: Disk, fill: Fill
) -> None:
    with small_disk(tmp_path / "results", "1m") as disk:
        run = disk / "run"
        shutil.copytree(DATA / "runs" / "smoke", run)
        before = (run / "manifest.json").read_text()
        man = manifest.load(run)
        man["stage_timings"]["padding"] = 1.0
        man["config"]["padding"] = "x" * 200_000  # bigger than anything the disk has left
        fill(disk)
        with pytest.raises(DiskFullError) as info:
            manifest.save(run, man)
        assert info.value.hint.endswith("the manifest as last saved is still in place")
        assert (run / "manifest.json").read_text() == before
        assert json.loads(before)["run_id"] and not [p for p in run.iterdir() if p.name.endswith(".partial")]


def test_telemetry_and_report_on_a_full_disk(tmp_path: Path, small_disk: Disk, fill: Fill) -> None:
    sampler = (DATA / "telemetry" / "mlserver-lxd.sampler.jsonl").read_text()
    frame = frames.frame(
        frames.read_samples(sampler)[1],
        host="srv-mlserver",
        framework="mlserver",
        role="server",
        windows=[("measure", 0, 2**62)],
    )
    with small_disk(tmp_path / "results", "2m") as disk:
        run = disk / "run"
        shutil.copytree(DATA / "runs" / "smoke", run)
        fill(disk)
        with pytest.raises(DiskFullError):
            frames.write(frame, CellKey("mlserver", "malware", "small", 50.0, 0).telemetry_path(run))
        with pytest.raises(DiskFullError) as info:
            build_report(run)
        assert info.value.what.startswith(f"could not write {run / 'report'}")
        assert not (run / "telemetry").exists() or leftovers(run / "telemetry") == []
        # The run's own files are whole: its rows still read.
        assert pl.read_parquet(store.raw_files(run)[0]).height > 0


def test_a_read_only_results_folder_gets_its_own_hint(tmp_path: Path, small_disk: Disk) -> None:
    rows = pl.read_parquet(store.raw_files(DATA / "runs" / "smoke")[0])
    with small_disk(tmp_path / "results", "1m") as disk:
        (disk / "run").mkdir()
        proc.run(["mount", "-o", "remount,ro", str(disk)], timeout=30)
        target = disk / "run" / "rep0.parquet"
        with pytest.raises(KitError) as info:
            store.write_raw(rows, target)
        assert not isinstance(info.value, DiskFullError)
        assert info.value.what == f"could not write {target}: Read-only file system"
        assert (
            info.value.hint == f"Check that {disk / 'run'} is writable; nothing half-written was left behind"
        )
