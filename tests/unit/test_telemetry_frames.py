"""Telemetry rows: the sampler's captured output labelled by phase and stored beside the raw rows;
the shell lines that start and stop a sampler on a host, run here for real with bash."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from kit import shipped
from kit.errors import KitError
from kit.load import vegeta
from kit.results.cells import CellKey
from kit.telemetry import frames
from kit.telemetry.remote_sampler import Fetched, scope_for, start_command, stop_command

DATA = Path(__file__).parents[1] / "data"
SERVER = (DATA / "telemetry" / "mlserver-lxd.sampler.jsonl").read_text()
CLIENT = (DATA / "telemetry" / "client-lxd.sampler.jsonl").read_text()
S = 1_000_000_000


def server_stamps() -> list[int]:
    return [s["ts_ns"] for s in frames.read_samples(SERVER)[1]]


def test_captured_sampler_output_is_read() -> None:
    header, samples = frames.read_samples(SERVER)
    assert header["scope"] == "unit mlserver.service" and header["cgroup"] == "/system.slice/mlserver.service"
    assert (
        len(samples) == 4
        and {s["procs"] for s in samples} == {3}
        and {s["source"] for s in samples} == {"cgroup"}
    )
    assert samples[0]["rss_bytes"] == 2073370624


def test_a_line_cut_off_by_a_killed_sampler_is_dropped() -> None:
    cut = SERVER[: SERVER.rindex("{") + 30]
    assert len(frames.read_samples(cut)[1]) == 3
    assert len(frames.read_samples(SERVER.rstrip("\n"))[1]) == 4  # a whole last line without its newline


def test_samples_are_labelled_by_the_phase_they_end_in() -> None:
    windows = frames.windows_from_plan(1000, [("warmup", 2.0), ("measure", 5.0)])
    assert windows == [("warmup", 1000, 1000 + 2 * S), ("measure", 1000 + 2 * S, 1000 + 7 * S)]
    assert frames.label(1000, windows) == "idle"  # connection warming, before t0
    assert frames.label(1001, windows) == "warmup" and frames.label(1000 + 2 * S, windows) == "warmup"
    assert frames.label(1001 + 2 * S, windows) == "measure" and frames.label(1001 + 7 * S, windows) == "idle"
    assert frames.windows_from_plan(None, [("measure", 5.0)]) == []


def test_vegeta_cells_take_their_windows_from_the_rows() -> None:
    records = vegeta.read_records(DATA / "vegeta" / "cell.jsonl")
    rows = vegeta.rows_from_records(
        records,
        ["warmup", "measure"],
        run_id="r",
        framework="f",
        scenario="s",
        payload="small",
        rate=50,
        rep=0,
    )
    windows = frames.windows_from_rows(rows)
    assert [w[0] for w in windows] == ["warmup", "measure"]
    assert windows[1][1] + 1 == rows.filter(pl.col("phase") == "measure")["intended_ns"].min()


def test_a_cells_telemetry_is_one_frame_of_both_hosts(tmp_path: Path) -> None:
    stamps = server_stamps()
    windows = [("warmup", stamps[0] - 1, stamps[0]), ("measure", stamps[0], stamps[2])]
    fetched = [Fetched("kit-srv-mlserver", "server", SERVER), Fetched("kit-client", "client", CLIENT)]
    frame, warnings = frames.cell_frame(fetched, "mlserver", windows)
    assert warnings == [] and frame.schema == pl.Schema(frames.SCHEMA) and frame.height == 8
    server = frame.filter(pl.col("role") == "server")
    assert server["phase"].to_list() == ["warmup", "measure", "measure", "idle"]
    assert set(frame["framework"]) == {"mlserver"} and set(frame["host"]) == {
        "kit-srv-mlserver",
        "kit-client",
    }
    assert frame["gpu_util_pct"].null_count() == 8

    path = CellKey("mlserver", "malware", "small", 200.0, 1).telemetry_path(tmp_path)
    assert path == tmp_path / "telemetry" / "mlserver" / "malware" / "small" / "200" / "rep1.parquet"
    frames.write(frame, path)
    back = pl.read_parquet(path)
    assert back.schema == pl.Schema(frames.SCHEMA) and back.height == 8
    with pytest.raises(KitError) as info:
        frames.write(frame, path)
    assert "exists already" in info.value.what

    summary = frames.summarize(back)
    assert summary["server"]["samples"] == 2 and summary["server"]["rss_max_bytes"] == 2073370624
    assert summary["server"]["cpu_mean_pct"] == pytest.approx((0.285 + 0.294) / 2, abs=1e-3)
    assert "client" not in summary  # the client's samples fall outside the server's windows here


def test_what_looks_wrong_is_a_warning_not_a_failure() -> None:
    none_running = '{"event": "start", "scope": "unit tfserving.service"}\n' + "\n".join(
        f'{{"ts_ns": {i}, "cpu_pct": 0.0, "rss_bytes": 0, "procs": 0}}' for i in range(3)
    )
    fetched = [Fetched("srv", "server", none_running), Fetched("client", "client", '{"event": "start"}\n')]
    frame, warnings = frames.cell_frame(fetched, "tfserving", [])
    assert frame.height == 3 and warnings == [
        "the server sampler on srv saw no process of unit tfserving.service",
        "the client sampler on client recorded no sample",
    ]


def test_scopes() -> None:
    assert scope_for("server", "torchserve") == ["--unit", "torchserve.service"]
    assert scope_for("client", "torchserve") == ["--host", "--no-gpu"]


def test_the_start_and_stop_lines_run_the_sampler_detached(tmp_path: Path) -> None:
    """The exact shell the kit sends over SSH, run by bash here: it returns at once, the sampler
    keeps sampling, and the stop line ends it by its PID file and waits for it."""
    folder = tmp_path / "kit telemetry"  # a space: every path is quoted
    folder.mkdir()
    shutil.copy(shipped.SAMPLER, folder / "sampler.py")
    remote = str(folder / "cell.server.jsonl")
    began = time.monotonic()
    line = start_command(remote, ["--host", "--no-gpu"], 0.2, 60, folder=str(folder))
    subprocess.run(["bash", "-c", line], check=True, timeout=20)
    assert time.monotonic() - began < 5
    time.sleep(1.0)
    pid = int(Path(f"{remote}.pid").read_text())
    assert "sampler.py" in Path(f"/proc/{pid}/cmdline").read_text()  # the sampler's own PID, not a shell's
    subprocess.run(["bash", "-c", stop_command(remote)], check=True, timeout=20)
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()  # gone, or a zombie nobody reaped
    header, samples = frames.read_samples(Path(remote).read_text())
    assert header["scope"] == "host" and len(samples) >= 3
    subprocess.run(["bash", "-c", stop_command(remote)], check=True, timeout=20)  # twice: harmless
