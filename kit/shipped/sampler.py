#!/usr/bin/env python3
"""serving-kit's telemetry sampler: one file, shipped to and run on a server or client host.

Like the load engine it imports nothing from the kit and only the standard library, because the
hosts' Python has nothing else: it reads /proc and cgroup files, and runs nvidia-smi where present.

    python3 sampler.py --out FILE [--interval 1] [--max-s S] (--unit NAME | --pid PID | --host) [--no-gpu]

Every interval it appends one JSON line to FILE (flushed, so that a killed sampler leaves whole
lines): {"ts_ns", "cpu_pct", "rss_bytes", "gpu_util_pct", "gpu_mem_bytes", "procs"}. The first line
is {"event": "start", ...} saying what is measured and how. SIGTERM or SIGINT ends it cleanly, and
so does --max-s: a sampler whose bench was killed before it could stop it ends by itself.

What is measured (the scope):
- --unit NAME: the processes of a systemd unit (the framework's server: its whole process tree,
  workers included), found by the cgroup path in /proc/<pid>/cgroup, so cgroup v1 and v2 both work.
- --pid PID: that process and all its descendants.
- --host: every process the host shows (on a client host: the engine and all else).

- cpu_pct: CPU time the scope used over the interval, as a share of the CPUs this host may use
  (so 0-100 whatever the core count). From the scope's cgroup counter when there is one (it also
  counts processes that exited meanwhile), else the sum over its processes in /proc.
- rss_bytes: the sum of the scope's processes' resident sets (VmRSS; pages shared between
  processes, such as forked workers' libraries, count once per process).
- gpu_util_pct: mean utilisation over the host's GPUs; gpu_mem_bytes: GPU memory held by the scope's
  processes, or by all processes when nvidia-smi names none of them (PIDs of another namespace).
  Both null without nvidia-smi.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NVIDIA_SMI_TIMEOUT_S = 5.0
CGROUP_ROOT = "/sys/fs/cgroup"


# --- /proc and cgroup files (pure parsers take the text, so tests run them on captured files) ----
def parse_stat_cpu_ticks(text: str) -> int:
    """utime + stime (clock ticks) from /proc/<pid>/stat; the command name may hold spaces."""
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5), counted from state


def parse_stat_ppid(text: str) -> int:
    return int(text[text.rindex(")") + 2 :].split()[1])


def parse_status_rss(text: str) -> int:
    """VmRSS from /proc/<pid>/status, in bytes; 0 for kernel threads, which have none."""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_cgroup_paths(text: str) -> list[str]:
    """The cgroup paths of /proc/<pid>/cgroup, one per hierarchy (v2's "0::/x" and v1's "4:memory:/x")."""
    return [line.split(":", 2)[2] for line in text.splitlines() if line.count(":") >= 2]


def in_unit(paths: Iterable[str], unit: str) -> bool:
    return any(f"/{unit}" == p[-len(unit) - 1 :] or f"/{unit}/" in p for p in paths)


def unit_cgroup(paths: Iterable[str], unit: str) -> str | None:
    """The path of the unit's own cgroup (…/system.slice/NAME) among a member's cgroup paths."""
    for p in paths:
        head, sep, _ = p.partition(f"/{unit}")
        if sep and (p == head + sep or p[len(head + sep)] == "/"):
            return head + sep
    return None


def parse_cpu_stat_usec(text: str) -> int:
    """usage_usec from a cgroup v2 cpu.stat."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value)
    raise ValueError("cpu.stat has no usage_usec")


def parse_nvidia_gpus(text: str) -> tuple[float | None, int]:
    """`nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits`:
    (mean utilisation %, total memory used in bytes); "[N/A]" fields are skipped."""
    utils, mem = [], 0
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2:
            continue
        if _number(parts[0]) is not None:
            utils.append(float(parts[0]))
        if _number(parts[1]) is not None:
            mem += int(float(parts[1]) * 1024 * 1024)
    return (sum(utils) / len(utils) if utils else None), mem


def parse_nvidia_apps(text: str) -> dict[int, int]:
    """`nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`: bytes per PID."""
    out: dict[int, int] = {}
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit() and _number(parts[1]) is not None:
            out[int(parts[0])] = out.get(int(parts[0]), 0) + int(float(parts[1]) * 1024 * 1024)
    return out


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None  # a process that exited between listing and reading


# --- scopes -------------------------------------------------------------------------------------
def all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


class Scope:
    """Which processes are measured, and the cgroup CPU counter covering them when there is one."""

    def __init__(self, unit: str | None, pid: int | None) -> None:
        self.unit, self.root_pid = unit, pid
        self.cgroup: str | None = None

    def describe(self) -> str:
        if self.unit:
            return f"unit {self.unit}"
        return f"pid {self.root_pid} and descendants" if self.root_pid else "host"

    def pids(self) -> list[int]:
        if self.unit:
            found = []
            for pid in all_pids():
                text = _read(f"/proc/{pid}/cgroup")
                if text is None:
                    continue
                paths = parse_cgroup_paths(text)
                if in_unit(paths, self.unit):
                    found.append(pid)
                    self.cgroup = self.cgroup or unit_cgroup(paths, self.unit)
            return found
        if self.root_pid:
            return descendants(self.root_pid)
        return all_pids()

    def cgroup_usage_ns(self) -> int | None:
        """The cgroup's cumulative CPU time (v2 cpu.stat, else v1 cpuacct.usage), if readable."""
        if self.cgroup is None and self.unit is None and self.root_pid is None:
            rel = ""  # the host: in a container this is the container's own cgroup (namespaced)
        elif self.cgroup is not None:
            rel = self.cgroup
        else:
            return None
        text = _read(f"{CGROUP_ROOT}{rel}/cpu.stat") or _read(f"{CGROUP_ROOT}/unified{rel}/cpu.stat")
        if text and "usage_usec" in text:
            return parse_cpu_stat_usec(text) * 1000
        for v1 in ("cpuacct", "cpu,cpuacct"):
            usage = _read(f"{CGROUP_ROOT}/{v1}{rel}/cpuacct.usage")
            if usage and usage.strip().isdigit():
                return int(usage)
        return None


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        text = _read(f"/proc/{pid}/stat")
        if text:
            children.setdefault(parse_stat_ppid(text), []).append(pid)
    out, todo = [], [root] if os.path.exists(f"/proc/{root}") else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Sampler:
    def __init__(self, scope: Scope, gpu: bool) -> None:
        self.scope = scope
        self.cpus = len(os.sched_getaffinity(0))
        self.nvidia_smi = shutil.which("nvidia-smi") if gpu else None
        self.prev_ticks: dict[int, int] = {}
        self.prev_usage: int | None = None
        self.prev_ts: int | None = None
        self.source = "proc"

    def sample(self) -> dict[str, Any] | None:
        """One line, or None for the first call, which only sets the baseline for CPU."""
        ts = time.time_ns()
        pids = self.scope.pids()
        ticks, rss = {}, 0
        for pid in pids:
            stat = _read(f"/proc/{pid}/stat")
            status = _read(f"/proc/{pid}/status")
            if stat is None or status is None:
                continue
            ticks[pid] = parse_stat_cpu_ticks(stat)
            rss += parse_status_rss(status)
        usage = self.scope.cgroup_usage_ns()
        cpu_pct = None
        if self.prev_ts is not None:
            dt = (ts - self.prev_ts) / 1e9
            if usage is not None and self.prev_usage is not None:
                used = (usage - self.prev_usage) / 1e9
                self.source = "cgroup"
            else:
                used = sum(t - self.prev_ticks.get(pid, 0) for pid, t in ticks.items()) / CLOCK_TICKS
                self.source = "proc"
            # Counters advance in ticks, so a host busy throughout can read a little over 100 %.
            cpu_pct = round(min(max(used, 0.0) / (dt * self.cpus) * 100, 100.0), 3) if dt > 0 else None
        first = self.prev_ts is None
        self.prev_ts, self.prev_ticks, self.prev_usage = ts, ticks, usage
        if first:
            return None
        util, gpu_mem = self.gpu(set(ticks))
        return {
            "ts_ns": ts,
            "cpu_pct": cpu_pct,
            "rss_bytes": rss,
            "gpu_util_pct": util,
            "gpu_mem_bytes": gpu_mem,
            "procs": len(ticks),
        }

    def gpu(self, pids: set[int]) -> tuple[float | None, int | None]:
        if not self.nvidia_smi:
            return None, None
        gpus = self._smi("--query-gpu=utilization.gpu,memory.used")
        if gpus is None:
            return None, None
        util, total = parse_nvidia_gpus(gpus)
        apps = parse_nvidia_apps(self._smi("--query-compute-apps=pid,used_memory") or "")
        mine = [mem for pid, mem in apps.items() if pid in pids]
        return util, (sum(mine) if mine else total)

    def _smi(self, query: str) -> str | None:
        assert self.nvidia_smi is not None
        try:
            res = subprocess.run(
                [self.nvidia_smi, query, "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=NVIDIA_SMI_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout if res.returncode == 0 else None


class StopRequest:
    """Set by the SIGTERM/SIGINT handler during the loop's sleep, read by the loop after it.

    A plain attribute, not a threading.Event: a handler may run inside another handler, and an Event's
    lock would deadlock there. Read through a method, not a local bool, which a type checker would
    take as still False after the loop's own test.
    """

    def __init__(self) -> None:
        self._requested = False

    def request(self, _sig: int, _frame: Any) -> None:
        self._requested = True

    def requested(self) -> bool:
        return self._requested


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sampler.py", description="serving-kit telemetry sampler")
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--max-s", type=float, default=0.0, help="stop after this long (0: never)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--unit")
    which.add_argument("--pid", type=int)
    which.add_argument("--host", action="store_true")
    parser.add_argument("--no-gpu", action="store_true")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be above 0")
    stop = StopRequest()
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, stop.request)
    sampler = Sampler(Scope(args.unit, args.pid), gpu=not args.no_gpu)
    with open(args.out, "a", buffering=1) as out:  # line-buffered: every line is whole on disk
        sampler.sample()
        header = {
            "event": "start",
            "scope": sampler.scope.describe(),
            "cgroup": sampler.scope.cgroup,
            "cpus": sampler.cpus,
            "gpu": sampler.nvidia_smi is not None,
            "interval_s": args.interval,
            "pid": os.getpid(),
        }
        out.write(json.dumps(header) + "\n")
        start = time.monotonic()
        k = 1
        while not stop.requested():
            # Deadlines on a fixed grid: samples do not drift however long one takes.
            if args.max_s and time.monotonic() - start >= args.max_s:
                break
            wait = start + k * args.interval - time.monotonic()
            k += 1
            if wait > 0:
                time.sleep(wait)  # a signal interrupts the sleep; the handler sets `stop`
            if stop.requested():
                break
            line = sampler.sample()
            if line is not None:
                line["source"] = sampler.source
                out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
