"""The load engine against a trivial local server: how fast and how honest is it?

    apt-get install -y nginx        # taskset and chrt come with util-linux
    .venv/bin/python benchmarks/engine.py [--duration S] [--rates 100,500,...] [--repeat N]
                                          [--priority rt|normal] [--engine-core N --server-core M]
                                          [--cpu-rates 500,2000] [--skip-rates --skip-stall --skip-cpu]

Debian's nginx serves a fixed 200 on 127.0.0.1, pinned to one core (taskset); the engine
(kit/shipped/engine.py, run as the kit runs it on a client host) is pinned to the other. Three parts:

1. Rates 100, 500, 1,000, 2,000 and 5,000 req/s: achieved rate, send-lag p99, and latency added over
   the server's own time (the engine's p50/p99 minus nginx's `$request_time`, which nginx logs with
   1 ms resolution, so for this trivial location it is 0 and the added latency is the whole latency:
   the client's own cost plus loopback). Target: at least 2,000 req/s per core with send-lag p99
   at most 1 ms.
2. The stall test: 200 req/s for 5 s, nginx's worker frozen for 1 s (SIGSTOP, then SIGCONT, to the
   worker this script started, by PID). Every request sent during the freeze waits for its end, so the
   truth is computable from the freeze's actual start and end: p90 about 0.5 s, p99 about 0.95 s.
   Target: the engine's p90 and p99 within 10 % of that truth.
3. Client CPU (benchmarks/client_cpu.py): CPU seconds per 1,000 requests of the engine and of an
   open-loop client on aiohttp, in turn on the same core against the same nginx, at 500 and 2,000
   req/s, both at ordinary priority whatever `--priority` says. CPU seconds (user + system, from the
   kernel's rusage of each client process), not wall-clock throughput, so that a shared machine's
   neighbours hardly move the figure. `--skip-rates --skip-stall` runs this part alone (about 45 s).

The engine asks for real-time scheduling as the kit's plans do by default (`--priority rt`), so
the figures are those of a client whose core is its own. `--priority normal` runs it as an ordinary
process: on a machine shared with other busy processes, those preempt it and its send lag shows
their pauses, not its own (each row prints the load average when it started).

Figures are printed; nothing is asserted (speed targets are measured here, never in timed tests).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from client_cpu import cpu_part

from kit.load.plan import Phase, Plan, Target, engine_path

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 65536; }}
http {{
    log_format timing '$msec $request_time';
    access_log {tmp}/access.log timing buffer=256k flush=1s;
    client_body_temp_path {tmp}/body;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location /ok {{ return 200 '{{"ok": true}}'; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """Debian's nginx with one worker, pinned to one core, in a scratch folder; stopped by PID."""

    def __init__(self, tmp: Path, core: int) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            sys.exit("nginx is missing: apt-get install -y nginx")
        self.tmp = tmp
        self.port = free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=self.port))
        self.master = subprocess.Popen(
            ["taskset", "-c", str(core), binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.worker = self._worker_pid()
        self.url = f"http://127.0.0.1:{self.port}/ok"

    def _worker_pid(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(f"/proc/{self.master.pid}/task/{self.master.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids and self._listening():
                return int(pids[0])
            time.sleep(0.05)
        self.stop()
        sys.exit(f"nginx did not start; see {self.tmp / 'error.log'}")

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def log_lines(self) -> list[tuple[float, float]]:
        """(epoch seconds, request seconds) of every request nginx logged so far."""
        path = self.tmp / "access.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                out.append((float(parts[0]), float(parts[1])))
        return out

    def stop(self) -> None:
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGQUIT)  # graceful: the worker finishes and exits
            try:
                self.master.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics, as kit.results.aggregate computes it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class EngineRun:
    """engine.py started as the kit starts it on a client host, pinned to one core."""

    def __init__(self, plan: Plan, work: Path, core: int) -> None:
        self.plan_file, self.out = work / "plan.json", work / "out.csv"
        self.plan_file.write_text(plan.to_json())
        self.proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(core),
                sys.executable,
                engine_path(),
                self.plan_file,
                self.out,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def t0_ns(self) -> int:
        """The epoch ns of the schedule's start, which the engine announces on stderr before sending."""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "start":
                    return int(event["t0_ns"])
        raise SystemExit("the engine exited before starting its schedule")

    def finish(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        stdout, stderr = self.proc.communicate(timeout=600)
        if self.proc.returncode != 0:
            raise SystemExit(f"the engine failed ({self.proc.returncode}): {stderr[-2000:]}")
        with self.out.open() as fh:
            rows = [
                {k: v if k in ("phase", "error") else int(v) for k, v in r.items()}
                for r in csv.DictReader(fh)
            ]
        return rows, json.loads(stdout.strip().splitlines()[-1])


REALTIME = {"value": True}  # --priority: whether the engine asks for real-time scheduling, as the kit does


def plan_for(url: str, rate: float, duration: float, warmup: float) -> Plan:
    phases = [Phase("warmup", rate, warmup), Phase("measure", rate, duration)]
    body = b'{"inputs": [1, 2, 3]}'
    return Plan(
        targets=[Target("POST", url, {"Content-Type": "application/json"}, body)],
        phases=phases,
        warm_connections=8,
        timeout_s=10,
        drain_s=10,
        processes=0,
        realtime=REALTIME["value"],
    )


def rates_part(nginx: Nginx, work: Path, rates: list[float], duration: float, core: int, repeat: int) -> None:
    print(
        f"\n1. rates (engine on core {core}, {duration:g} s measured after 1 s of warm-up, "
        f"{repeat} runs each)"
    )
    print(
        f"{'target/s':>9} {'run':>3} {'load1':>5} {'achieved/s':>10} {'share':>7} {'procs':>5} "
        f"{'lag p50 ms':>10} {'lag p99 ms':>10} {'lat p50 ms':>10} {'lat p99 ms':>10} {'srv p99 ms':>10} "
        f"{'added p50':>9} "
        f"{'added p99':>9} {'cpu %':>5} {'errors':>6}  verdict"
    )
    met: dict[float, int] = {}
    for rate in rates:
        for k in range(repeat):
            seen = len(nginx.log_lines())
            load1 = float(Path("/proc/loadavg").read_text().split()[0])
            run = EngineRun(plan_for(nginx.url, rate, duration, 1.0), work, core)
            t0 = run.t0_ns()
            rows, summary = run.finish()
            time.sleep(1.2)  # nginx flushes its access log every second
            measured = [r for r in rows if r["phase"] == "measure"]
            lat = [(r["done_ns"] - r["intended_ns"]) / 1e6 for r in measured]
            start_s, end_s = (t0 + 1e9) / 1e9, (t0 + 1e9 + duration * 1e9) / 1e9
            server = [req * 1e3 for ts, req in nginx.log_lines()[seen:] if start_s <= ts <= end_s + 10]
            m = summary["per_phase"]["measure"]
            errors = sum(1 for r in measured if not 200 <= r["code"] < 300)
            met[rate] = met.get(rate, 0) + bool(m["valid"] and not errors)
            verdict = "valid" if m["valid"] else f"invalid: {m['invalid_reason']}"
            lat50, lat99 = quantile(lat, 0.5), quantile(lat, 0.99)
            srv50, srv99 = quantile(server, 0.5), quantile(server, 0.99)
            cpu = 100 * summary["cpu_s"] / (duration + 1.0)  # the engine's CPU over its two phases
            sched = summary.get("scheduling", "?")
            print(
                f"{rate:>9g} {k + 1:>3} {load1:>5.2f} {m['achieved_rate']:>10.1f} "
                f"{m['achieved_rate'] / rate:>7.2%} {summary['processes']:>5} "
                f"{m['send_lag_p50_ms']:>10.3f} {m['send_lag_p99_ms']:>10.3f} "
                f"{lat50:>10.3f} {lat99:>10.3f} {srv99:>10.3f} {lat50 - srv50:>9.3f} {lat99 - srv99:>9.3f} "
                f"{cpu:>5.0f} {errors:>6}  {verdict} [{sched}]",
                flush=True,
            )
    print(
        "   valid runs (send-lag p99 <= 1 ms, achieved >= 99 %, no errors): "
        + ", ".join(f"{r:g}/s {n}/{repeat}" for r, n in met.items())
    )


def stall_part(nginx: Nginx, work: Path, core: int, rate: float = 200, duration: float = 5.0) -> None:
    print(f"\n2. stall: {rate:g} req/s for {duration:g} s, nginx's worker (PID {nginx.worker}) frozen 1 s")
    run = EngineRun(plan_for(nginx.url, rate, duration, 1.0), work, core)
    t0 = run.t0_ns()
    freeze_at = t0 + 1_000_000_000 + 2_000_000_000  # 2 s into the measured phase
    time.sleep(max(0.0, (freeze_at - time.time_ns()) / 1e9))
    stopped = time.time_ns()
    os.kill(nginx.worker, signal.SIGSTOP)
    time.sleep(1.0)
    os.kill(nginx.worker, signal.SIGCONT)
    resumed = time.time_ns()
    rows, summary = run.finish()
    measured = [r for r in rows if r["phase"] == "measure"]
    got = [(r["done_ns"] - r["intended_ns"]) / 1e9 for r in measured]
    # The truth: a request scheduled during the freeze waits until the worker resumes; any other
    # request takes the server's ordinary time, which is the unfrozen requests' median here.
    after = [g for r, g in zip(measured, got, strict=True) if r["intended_ns"] > resumed + 1e8]
    normal = quantile(after, 0.5)
    truth = [
        (resumed - r["intended_ns"]) / 1e9 + normal if stopped <= r["intended_ns"] < resumed else normal
        for r in measured
    ]
    lag = summary["per_phase"]["measure"]["send_lag_p99_ms"]
    print(
        f"   frozen for {(resumed - stopped) / 1e9:.3f} s; {len(measured)} requests measured, "
        f"{summary['not_sent']} not sent, send-lag p99 {lag:.3f} ms"
    )
    print(f"   {'':>6} {'engine s':>9} {'truth s':>9} {'error':>7}  target")
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        g, t = quantile(got, q), quantile(truth, q)
        mark = "" if name == "p50" else ("within 10 %" if abs(g - t) <= 0.1 * t else "OUTSIDE 10 %")
        print(f"   {name:>6} {g:>9.4f} {t:>9.4f} {(g - t) / t:>7.2%}  {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per rate")
    parser.add_argument("--rates", default="100,500,1000,2000,5000")
    parser.add_argument("--engine-core", type=int, default=0)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per rate (the machine may be shared)")
    parser.add_argument(
        "--priority",
        choices=["rt", "normal"],
        default="rt",
        help="rt (the kit's default): the engine asks for real-time scheduling, as on a client host; "
        "normal: it does not, and a shared machine's neighbours preempt it",
    )
    parser.add_argument("--skip-rates", action="store_true")
    parser.add_argument("--skip-stall", action="store_true")
    parser.add_argument("--cpu-rates", default="500,2000", help="part 3's rates (req/s)")
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    REALTIME["value"] = args.priority == "rt"
    print(
        f"engine priority: {args.priority}; load average now {Path('/proc/loadavg').read_text().split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="kit-bench-engine-") as tmp:
        nginx = Nginx(Path(tmp), args.server_core)
        work = Path(tmp) / "work"
        work.mkdir()
        try:
            print(f"nginx worker PID {nginx.worker} on core {args.server_core}: {nginx.url}")
            if not args.skip_rates:
                rates = [float(r) for r in args.rates.split(",")]
                rates_part(nginx, work, rates, args.duration, args.engine_core, args.repeat)
            if not args.skip_stall:
                stall_part(nginx, work, args.engine_core)
            if not args.skip_cpu:
                rates = [float(r) for r in args.cpu_rates.split(",")]
                cpu_part(nginx.url, work, args.engine_core, rates, short_s=2.0, long_s=8.0)
        finally:
            nginx.stop()


if __name__ == "__main__":
    main()
