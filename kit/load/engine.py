#!/usr/bin/env python3
"""serving-kit's open-loop HTTP load engine: one file, shipped to and run on the client host.

Why standalone: the engine runs on a separate client host (so that requests cross the same network
as in production) whose Python holds only the standard library, aiohttp and uvloop. It therefore
imports nothing from the kit, and the kit copies this one file there (kit.load.plan.engine_path()).
uvloop is optional: without it the engine runs on asyncio's own loop, at a lower ceiling.

    python3 engine.py PLAN.json OUT.csv

Measurement rules (DESIGN.md section 5):
- Open loop: every request's send time is fixed before t0 and it leaves then, as its own task,
  whether or not earlier replies came back; none is ever skipped. Latency counts from the intended
  time, so a stalled server shows in the tail instead of slowing the client (no coordinated omission).
- Times come from perf_counter_ns() anchored once to time.time_ns(): monotonic, sub-microsecond,
  and still epoch nanoseconds. loop.time() is not used for scheduling: uvloop's has 1 ms resolution.
  sent_ns is when the request's task starts; opening a connection, if it needs one, is service time.
- Timers fire up to ~1 ms late, so the engine sleeps until SLEEP_MARGIN_NS before a send time and
  yields (sleep(0)) the rest of the way: the send lag it records is that of the client, not the timer.
- Nothing is dropped: HTTP errors keep their status; timeouts and transport failures are code 0 with
  the error text; requests still in flight after drain_s are rows with "unfinished at drain".
- SIGINT/SIGTERM stop the schedule, give in-flight requests a short grace, write every row and the
  summary (with the count scheduled but never sent), and exit 130.

Rows are streamed to OUT.csv as requests complete (completion order; readers sort by seq). The last
line on stdout is a JSON summary.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import csv
import gc
import json
import random
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiohttp

try:
    import uvloop
except ImportError:  # the engine still runs, at a lower ceiling
    uvloop = None

COLUMNS = ("phase", "seq", "intended_ns", "sent_ns", "done_ns", "code", "bytes_out", "bytes_in", "error")
EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
SLEEP_MARGIN_NS = 2_000_000  # timers are 1 ms coarse and may fire late: wake this early, then spin
SPIN_BELOW_NS = 2_500_000  # closer than this to a send time, only yield (sleeping would overshoot)
START_DELAY_NS = 20_000_000  # room between the end of warming and t0
INTERRUPT_GRACE_S = 1.0  # after SIGINT, in-flight replies get this long before they are cut off
WARM_TIMEOUT_S = 2.0  # a slow or dead target must not hold the start: its rows will show why
ERROR_CHARS = 300


class Clock:
    """Epoch nanoseconds derived from perf_counter_ns: monotonic and sub-microsecond."""

    def __init__(self) -> None:
        self.epoch_ns = time.time_ns()
        self.perf_ns = time.perf_counter_ns()

    def epoch(self, perf_ns: int) -> int:
        return self.epoch_ns + (perf_ns - self.perf_ns)


def schedule(phases: list[dict[str, Any]], arrival: str, seed: int) -> list[tuple[str, float]]:
    """(phase name, offset in seconds from t0) of every request, the phases back to back.

    One seeded generator serves the whole plan, so the same seed gives the same schedule.
    """
    rng = random.Random(seed)
    out: list[tuple[str, float]] = []
    start = 0.0
    for phase in phases:
        name, rate, duration = str(phase["name"]), float(phase["rate"]), float(phase["duration_s"])
        if arrival == "poisson":
            t = rng.expovariate(rate)
            while t < duration:
                out.append((name, start + t))
                t += rng.expovariate(rate)
        elif arrival == "constant":
            out.extend((name, start + i / rate) for i in range(round(rate * duration)))
        else:
            raise ValueError(f"unknown arrival process {arrival!r}")
        start += duration
    return out


@dataclass
class PhaseStats:
    """What the summary reports per phase; lags live in an array to stay out of the GC's way."""

    name: str
    rate: float
    start_ns: int  # offset from t0
    duration_ns: int
    scheduled: int = 0
    sent: int = 0
    last_sent_ns: int = 0  # perf ns
    lags_ns: array.array[int] = field(default_factory=lambda: array.array("q"))

    def report(self, t0_ns: int, stopped_ns: int | None) -> dict[str, Any]:
        lags = sorted(self.lags_ns)
        return {
            "rate": self.rate,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "not_sent": self.scheduled - self.sent,
            "achieved_rate": round(self.achieved_rate(t0_ns, stopped_ns), 3),
            "send_lag_p50_ms": _quantile_ms(lags, 0.50),
            "send_lag_p99_ms": _quantile_ms(lags, 0.99),
            "send_lag_max_ms": _quantile_ms(lags, 1.0),
        }

    def achieved_rate(self, t0_ns: int, stopped_ns: int | None) -> float:
        """Requests sent over the phase's window, which stretches when the client sent late.

        The window runs from the phase's start to its end (or to the interrupt, if that came first),
        or to its last actual send if that was later still: a client that fell behind is caught here.
        """
        if self.sent == 0:
            return 0.0
        start = t0_ns + self.start_ns
        end = start + self.duration_ns
        if stopped_ns is not None:
            end = min(end, stopped_ns)
        end = max(end, self.last_sent_ns)
        return self.sent / ((end - start) / 1e9) if end > start else 0.0


def _quantile_ms(sorted_ns: list[int], q: float) -> float | None:
    """Linear interpolation between order statistics, as kit.results.aggregate computes it."""
    if not sorted_ns:
        return None
    pos = q * (len(sorted_ns) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_ns) - 1)
    return (sorted_ns[lo] + (sorted_ns[hi] - sorted_ns[lo]) * (pos - lo)) / 1e6


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _http_error(body: bytes, reason: str | None) -> str:
    """The start of an error reply's body (servers put their message there), else the reason phrase."""
    return " ".join(body[:ERROR_CHARS].decode("utf-8", "replace").split()) or (reason or "")


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())[:ERROR_CHARS]


class Engine:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.targets = [
            Target(
                str(t.get("method", "GET")).upper(),
                str(t["url"]),
                dict(t.get("headers") or {}),
                base64.b64decode(t.get("body_b64") or ""),
            )
            for t in plan["targets"]
        ]
        self.timeout_s = float(plan.get("timeout_s", 10.0))
        self.keepalive = bool(plan.get("keepalive", True))
        self.clock = Clock()
        self.phases, self.due_ns, self.phase_of = self._plan_schedule()
        self.t0_ns = 0
        self.launched = 0
        self.completed = 0
        self.errors = 0
        self.unfinished = 0
        self.in_flight = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.idle: asyncio.Event | None = None
        self.interrupted = False
        self.stopped_ns: int | None = None
        self.stop: asyncio.Event | None = None
        self.current: asyncio.Task[Any] | None = None
        self.cut_reason = "unfinished at drain"
        self.writer: Any = None  # csv writer, set by record_to()

    def record_to(self, out: TextIO) -> None:
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(COLUMNS)

    def _plan_schedule(self) -> tuple[list[PhaseStats], list[int], bytearray]:
        """Send times as integer ns offsets from t0, fixed before the run (the open-loop contract)."""
        raw = self.plan["phases"]
        sched = schedule(raw, str(self.plan.get("arrival", "constant")), int(self.plan.get("seed", 0)))
        phases: list[PhaseStats] = []
        start = 0
        for p in raw:
            duration = round(float(p["duration_s"]) * 1e9)
            phases.append(PhaseStats(str(p["name"]), float(p["rate"]), start, duration))
            start += duration
        index = {p.name: i for i, p in enumerate(phases)}
        if len(phases) > 255 or len(index) != len(phases):
            raise ValueError("phase names must be unique, and at most 255 phases")
        phase_of = bytearray(index[name] for name, _ in sched)
        for i in phase_of:
            phases[i].scheduled += 1
        return phases, [round(offset * 1e9) for _, offset in sched], phase_of

    # --- the run --------------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        # Unbounded pool (open loop: a busy connection never holds a request back); redirects are not
        # followed so that each row is exactly one HTTP exchange.
        connector = aiohttp.TCPConnector(limit=0, force_close=not self.keepalive)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as s:
            await self._step(self._warm(s))
            # Objects alive now (modules, the schedule) never need scanning again: shorter GC pauses.
            gc.collect()
            gc.freeze()
            if not self.interrupted:
                self.t0_ns = time.perf_counter_ns() + START_DELAY_NS
                await self._step(self._send_all(s))
            await self._drain()

    async def _step(self, coro: Any) -> None:
        """Run one stage as a task the signal handler can cancel."""
        self.current = asyncio.create_task(coro)
        try:
            await self.current
        except asyncio.CancelledError:
            if not self.interrupted:
                raise
        finally:
            self.current = None

    def _on_signal(self) -> None:
        if not self.interrupted:
            self.interrupted = True
            self.stopped_ns = time.perf_counter_ns()
            self.cut_reason = "unfinished at interrupt"
        assert self.stop is not None
        self.stop.set()
        if self.current is not None:
            self.current.cancel()

    async def _warm(self, session: aiohttp.ClientSession) -> None:
        """Open keep-alive connections to every origin before t0, so early requests don't pay for them."""
        count = int(self.plan.get("warm_connections", 0)) if self.keepalive else 0
        if count <= 0:
            return
        first_per_origin = {urlsplit(t.url)[:2]: t for t in reversed(self.targets)}.values()

        async def one(t: Target) -> None:
            try:
                async with session.request(
                    t.method, t.url, data=t.body, headers=t.headers, allow_redirects=False
                ) as resp:
                    await resp.read()
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass  # a dead target shows in the measured rows, with its error, not here

        jobs = [one(t) for t in first_per_origin for _ in range(count)]
        with contextlib.suppress(TimeoutError):  # a slow target: its connections open after t0 instead
            await asyncio.wait_for(asyncio.gather(*jobs), timeout=min(self.timeout_s, WARM_TIMEOUT_S))

    async def _send_all(self, session: aiohttp.ClientSession) -> None:
        """The hot loop: sleep until just before the next send time, then launch everything due."""
        now_ns, sleep, create_task = time.perf_counter_ns, asyncio.sleep, asyncio.create_task
        due, phase_of, tasks, t0 = self.due_ns, self.phase_of, self.tasks, self.t0_ns
        n, i = len(due), 0
        try:
            while i < n:
                now = now_ns()
                wait = t0 + due[i] - now
                if wait > 0:
                    await sleep((wait - SLEEP_MARGIN_NS) / 1e9 if wait > SPIN_BELOW_NS else 0)
                    continue
                while i < n and t0 + due[i] <= now:
                    task = create_task(self._fire(session, i, phase_of[i], t0 + due[i]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    self.in_flight += 1
                    i += 1
                await sleep(0)  # let the new tasks send before looking at the clock again
        finally:
            self.launched = i  # also when a signal cancels the loop: the rest are counted as not sent

    async def _fire(self, session: aiohttp.ClientSession, seq: int, phase_index: int, due_ns: int) -> None:
        target = self.targets[seq % len(self.targets)]
        sent_ns = time.perf_counter_ns()
        phase = self.phases[phase_index]
        phase.sent += 1
        phase.last_sent_ns = sent_ns
        phase.lags_ns.append(sent_ns - due_ns)
        code, bytes_in, error = 0, 0, ""
        try:
            async with session.request(
                target.method, target.url, data=target.body, headers=target.headers, allow_redirects=False
            ) as resp:
                data = await resp.read()
                code, bytes_in = resp.status, len(data)
                if code >= 400:
                    error = _http_error(data, resp.reason)
        except asyncio.CancelledError:
            error = self.cut_reason
            self.unfinished += 1
        except TimeoutError:
            error = f"timeout after {self.timeout_s:g}s"
        except Exception as exc:  # never drop a row: whatever went wrong is the row's error
            error = _error_text(exc)
        done_ns = time.perf_counter_ns()
        epoch = self.clock.epoch
        times = (epoch(due_ns), epoch(sent_ns), epoch(done_ns))
        self.writer.writerow((phase.name, seq, *times, code, len(target.body), bytes_in, error))
        self.completed += 1
        if not 200 <= code < 300:
            self.errors += 1
        self.in_flight -= 1
        if self.in_flight == 0 and self.idle is not None:
            self.idle.set()

    async def _drain(self) -> None:
        """Wait up to drain_s for replies (less once interrupted), then cut off the rest as rows."""
        assert self.stop is not None
        if self.in_flight:
            self.idle = asyncio.Event()
            limit = float(self.plan.get("drain_s", 10.0))
            if not self.interrupted:
                await _first(self.idle.wait(), self.stop.wait(), timeout=limit)
            if self.interrupted and self.in_flight:
                await _first(self.idle.wait(), timeout=min(limit, INTERRUPT_GRACE_S))
        pending = list(self.tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def summary(self) -> dict[str, Any]:
        scheduled = len(self.due_ns)
        return {
            "scheduled": scheduled,
            "sent": self.launched,
            "not_sent": scheduled - self.launched,
            "completed": self.completed,
            "errors": self.errors,
            "unfinished": self.unfinished,
            "interrupted": self.interrupted,
            "t0_ns": self.clock.epoch(self.t0_ns) if self.t0_ns else None,
            "loop": "uvloop" if uvloop is not None else "asyncio",
            "per_phase": {p.name: p.report(self.t0_ns, self.stopped_ns) for p in self.phases},
        }


async def _first(*coros: Any, timeout: float) -> None:
    """Return when the first of the coroutines finishes or the timeout passes; cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _raise_fd_limit() -> None:
    """An open loop against a stalled server holds one connection per request in flight: allow many."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _load_plan(path: str) -> dict[str, Any]:
    with open(path) as fh:
        plan: dict[str, Any] = json.load(fh)
    if not plan.get("targets") or not plan.get("phases"):
        raise ValueError("the plan needs at least one target and one phase")
    return plan


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: engine.py PLAN.json OUT.csv", file=sys.stderr)
        return EXIT_USAGE
    # Until the loop installs its own handlers, SIGTERM behaves like Ctrl-C: the CSV is still written.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _raise_fd_limit()
    try:
        engine = Engine(_load_plan(argv[0]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"engine: cannot run this plan: {_error_text(exc)}", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.ExitStack() as closing:  # closing the file puts every row gathered so far on disk
        try:
            out = closing.enter_context(open(argv[1], "w", newline="", buffering=1 << 16))
        except OSError as exc:
            print(f"engine: cannot write the rows: {_error_text(exc)}", file=sys.stderr)
            return EXIT_USAGE
        engine.record_to(out)
        _run(engine)
    print(json.dumps(engine.summary()), flush=True)
    return EXIT_INTERRUPTED if engine.interrupted else 0


def _run(engine: Engine) -> None:
    factory = uvloop.new_event_loop if uvloop is not None else None
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(engine.run())
    except KeyboardInterrupt:  # a signal outside the loop's own handlers (start-up, shutdown)
        engine.interrupted = True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
