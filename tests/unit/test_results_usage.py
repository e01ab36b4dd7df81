"""kit/results/usage.py: resource figures per cell from telemetry files written by kit.telemetry,
built here from the samplers' captured output (tests/data/telemetry)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from kit.results import analysis, usage
from kit.results.cells import CellKey
from kit.telemetry import frames

DATA = Path(__file__).parent.parent / "data"
CAPTURED = DATA / "telemetry"


def _samples(name: str) -> list[dict]:  # type: ignore[type-arg]
    return frames.read_samples((CAPTURED / f"{name}.sampler.jsonl").read_text())[1]


def write_telemetry(run_dir: Path, rep: int = 0) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    """The captured server and client samples as the smoke cell's telemetry; the first server sample
    falls in the warm-up window, the others in the measured one. Returns the measured samples."""
    server, client = _samples("mlserver-lxd"), _samples("client-lxd")
    first = int(server[0]["ts_ns"])
    windows = [("warmup", first - 1_000_000_000, first), ("measure", first, first + 60_000_000_000)]
    frame = pl.concat(
        [
            frames.frame(server, host="srv-mlserver", framework="mlserver", role="server", windows=windows),
            frames.frame(client, host="client", framework="mlserver", role="client", windows=windows),
        ]
    )
    frames.write(frame, CellKey("mlserver", "malware", "small", 50.0, rep).telemetry_path(run_dir))
    return server[1:], client


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "smoke"
    shutil.copytree(DATA / "runs" / "smoke", dest)
    return dest


def test_figures_come_from_the_measured_samples_only(run: Path) -> None:
    server, client = write_telemetry(run)
    got, problems, notes = usage.cell_usage(run)
    assert (problems, notes) == ([], [])
    row = got.row(0, named=True)
    assert (row["framework"], row["rate"], row["rep"]) == ("mlserver", 50.0, 0)
    cpu = [s["cpu_pct"] for s in server]
    assert row["telemetry_samples"] == len(server) + len(client) == 7
    assert row["server_cpu_mean_pct"] == pytest.approx(sum(cpu) / len(cpu))
    assert row["server_cpu_max_pct"] == pytest.approx(max(cpu))
    assert row["server_rss_max_mb"] == pytest.approx(max(s["rss_bytes"] for s in server) / 2**20)
    assert row["client_cpu_mean_pct"] == pytest.approx(sum(s["cpu_pct"] for s in client) / len(client))
    assert (
        row["server_gpu_util_mean_pct"] is None and row["server_gpu_mem_max_mb"] is None
    )  # no GPU: missing, not 0


def test_usage_is_joined_to_the_cell_and_averaged_over_repetitions(run: Path) -> None:
    write_telemetry(run)
    data = analysis.analyse(run)
    cell, group = data.cells.row(0, named=True), data.groups.row(0, named=True)
    assert cell["server_cpu_mean_pct"] is not None
    assert group["server_cpu_mean_pct"] == pytest.approx(cell["server_cpu_mean_pct"])
    assert group["server_rss_max_mb"] == pytest.approx(cell["server_rss_max_mb"])


def test_a_run_without_telemetry_has_no_usage_figures(run: Path) -> None:
    got, problems, notes = usage.cell_usage(run)
    assert got.height == 0 and got.schema == pl.Schema(usage.USAGE_SCHEMA) and problems == notes == []
    assert analysis.analyse(run).cells["server_cpu_mean_pct"].to_list() == [None]


def test_an_unreadable_telemetry_file_is_a_problem_not_a_stop(run: Path) -> None:
    target = CellKey("mlserver", "malware", "small", 50.0, 0).telemetry_path(run)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"PAR1 cut")
    got, problems, _ = usage.cell_usage(run)
    assert got.height == 0
    assert len(problems) == 1 and problems[0].startswith(f"telemetry file {target} is unreadable (")


def test_samples_without_phase_labels_count_whole_and_say_so(run: Path) -> None:
    target = CellKey("mlserver", "malware", "small", 50.0, 0).telemetry_path(run)
    target.parent.mkdir(parents=True)
    rows = [
        {"host": "srv-mlserver", "ts_ns": s["ts_ns"], "cpu_pct": s["cpu_pct"]}
        for s in _samples("mlserver-lxd")
    ]
    pl.DataFrame(rows).write_parquet(target)
    got, _, notes = usage.cell_usage(run)
    assert got["server_cpu_mean_pct"][0] == pytest.approx(sum(r["cpu_pct"] for r in rows) / len(rows))
    assert notes == ["1 telemetry file(s) have no phase labels: their usage figures include warm-up samples"]
    assert json.dumps(got["client_cpu_mean_pct"].to_list()) == "[null]"
