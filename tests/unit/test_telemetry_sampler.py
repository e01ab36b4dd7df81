"""The telemetry sampler (kit/shipped/sampler.py): its parsers on files captured from real hosts,
and the sampler itself run as a subprocess against real processes on this machine.

tests/data/telemetry holds /proc and cgroup files read from an MLServer host of the local provider
(an LXD container, cgroup v1 with a unified hierarchy beside it), from this machine (kthreadd; a
process whose name holds spaces and parentheses), and the sampler's own output on that MLServer host
and on the client host. This machine has no GPU: the nvidia-smi parsers are checked on its
documented CSV format (`--format=csv,noheader,nounits`), written out below as such.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kit.shipped import sampler
from kit.telemetry.remote_sampler import sampler_path

DATA = Path(__file__).parents[1] / "data" / "telemetry"


def read(name: str) -> str:
    return (DATA / name).read_text()


# --- parsers on captured files --------------------------------------------------------------------
def test_cpu_ticks_and_parent_from_proc_stat() -> None:
    assert (
        sampler.parse_stat_cpu_ticks(read("mlserver-lxd.stat")) == 651 + 127
    )  # utime, stime: fields 14 and 15
    assert sampler.parse_stat_ppid(read("mlserver-lxd.stat")) == 1
    odd = read("odd-name.stat")  # comm "sl (x) y": the fields start after the last ')'
    assert sampler.parse_stat_cpu_ticks(odd) == 0 and sampler.parse_stat_ppid(odd) == 1
    assert sampler.parse_stat_cpu_ticks(read("kthreadd.stat")) == 0


def test_resident_memory_from_proc_status() -> None:
    assert sampler.parse_status_rss(read("mlserver-lxd.status")) == 1077732 * 1024
    assert sampler.parse_status_rss(read("sshd-lxd.status")) == 9664 * 1024
    assert sampler.parse_status_rss(read("kthreadd.status")) == 0  # kernel threads have no VmRSS


def test_a_units_processes_are_found_by_their_cgroup_paths() -> None:
    paths = sampler.parse_cgroup_paths(read("mlserver-lxd.cgroup"))
    assert "/system.slice/mlserver.service" in paths and "/" in paths and len(paths) == 10
    assert sampler.in_unit(paths, "mlserver.service")
    assert not sampler.in_unit(paths, "mlserver") and not sampler.in_unit(paths, "server.service")
    assert sampler.unit_cgroup(paths, "mlserver.service") == "/system.slice/mlserver.service"
    workers = ["/system.slice/mlserver.service/workers"]
    assert sampler.in_unit(workers, "mlserver.service")
    assert sampler.unit_cgroup(workers, "mlserver.service") == "/system.slice/mlserver.service"
    here = sampler.parse_cgroup_paths(read("controller.cgroup"))
    assert (
        not sampler.in_unit(here, "mlserver.service")
        and sampler.unit_cgroup(here, "mlserver.service") is None
    )


def test_cgroup_v2_cpu_usage() -> None:
    assert sampler.parse_cpu_stat_usec(read("mlserver-lxd.cpu.stat")) == 93314423
    with pytest.raises(ValueError):
        sampler.parse_cpu_stat_usec("nr_periods 0\n")


# nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits, in its documented
# format: one line per GPU, values without units, "[N/A]" where a GPU does not report one.
NVIDIA_GPUS = "37, 10240\n[N/A], 512\n"
# nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits: one line per process.
NVIDIA_APPS = "4242, 8000\n4243, 2000\n777, 512\n"


def test_gpu_figures_from_nvidia_smi_csv() -> None:
    util, mem = sampler.parse_nvidia_gpus(NVIDIA_GPUS)
    assert util == 37.0 and mem == (10240 + 512) * 1024 * 1024
    assert sampler.parse_nvidia_gpus("") == (None, 0)
    assert sampler.parse_nvidia_apps(NVIDIA_APPS) == {4242: 8000 << 20, 4243: 2000 << 20, 777: 512 << 20}


# --- the sampler running --------------------------------------------------------------------------
BUSY_TREE = """
import os, sys, time
if os.fork() == 0:
    ballast = bytearray(64 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # touch every page: resident, not just reserved
    end = time.time() + 30
    while time.time() < end:
        pass
    os._exit(0)
print("ready", flush=True)
os.wait()
"""


def sample(args: list[str], tmp_path: Path, seconds: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = tmp_path / "samples.jsonl"
    proc = subprocess.Popen([sys.executable, str(sampler_path()), "--out", str(out), *args])
    time.sleep(seconds)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0 and time.monotonic() - began < 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return lines[0], lines[1:]


def test_a_process_tree_is_sampled_with_its_children(tmp_path: Path) -> None:
    busy = subprocess.Popen([sys.executable, "-c", BUSY_TREE], stdout=subprocess.PIPE, text=True)
    try:
        assert busy.stdout is not None and busy.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # the child has touched its 64 MiB
        header, samples = sample(["--pid", str(busy.pid), "--interval", "0.3", "--no-gpu"], tmp_path, 1.6)
    finally:
        busy.kill()
        busy.wait(timeout=10)
    assert header["event"] == "start" and header["scope"] == f"pid {busy.pid} and descendants"
    assert header["gpu"] is False and header["cpus"] >= 1
    assert len(samples) >= 3 and all(s["procs"] == 2 and s["source"] == "proc" for s in samples)
    assert min(s["rss_bytes"] for s in samples) > 64 * 1024 * 1024
    busiest = max(s["cpu_pct"] for s in samples)
    assert 100 / header["cpus"] * 0.25 < busiest <= 100  # one core spinning, on a shared machine
    assert all(s["gpu_util_pct"] is None and s["gpu_mem_bytes"] is None for s in samples)
    stamps = [s["ts_ns"] for s in samples]
    assert all(0.2e9 < b - a < 0.6e9 for a, b in itertools.pairwise(stamps))


def test_the_whole_host_and_a_unit_that_is_not_running(tmp_path: Path) -> None:
    header, samples = sample(["--host", "--interval", "0.25", "--no-gpu"], tmp_path, 0.9)
    assert (
        header["scope"] == "host" and samples and all(s["procs"] > 3 and s["rss_bytes"] > 0 for s in samples)
    )
    assert all(0 <= s["cpu_pct"] <= 100 for s in samples)
    (tmp_path / "unit").mkdir()
    header, samples = sample(["--unit", "kit-no-such.service", "--interval", "0.25"], tmp_path / "unit", 0.8)
    assert (
        header["cgroup"] is None and samples and {(s["procs"], s["rss_bytes"]) for s in samples} == {(0, 0)}
    )


def test_max_s_ends_a_sampler_nobody_stopped(tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    res = subprocess.run(
        [
            sys.executable,
            str(sampler_path()),
            "--out",
            str(out),
            "--host",
            "--interval",
            "0.2",
            "--max-s",
            "0.7",
        ],
        timeout=20,
    )
    assert res.returncode == 0 and 2 <= len(out.read_text().splitlines()) <= 6


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(sampler_path()), "--out", str(tmp_path / "x"), "--host", "--interval", "0"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert res.returncode == 2 and "--interval must be above 0" in res.stderr
