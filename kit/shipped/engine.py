#!/usr/bin/env python3
"""serving-kit's open-loop HTTP load engine: one file, shipped to and run on the client host.

Why standalone: the engine runs on a separate client host (so that requests cross the same network
as in production) whose Python holds only the standard library and uvloop. It therefore
imports nothing from the kit, and the kit copies this one file there (kit.load.plan.engine_path()).
uvloop is optional: without it the engine runs on asyncio's own loop, at a lower ceiling.

    python3 engine.py PLAN.json OUT.csv

Measurement rules (docs/design.md section 5):
- Open loop: every request's send time is fixed before t0 and it leaves then, as its own task,
  whether or not earlier replies came back; none is ever skipped. Latency counts from the intended
  time, so a stalled server shows in the tail instead of slowing the client (no coordinated omission).
- Times come from perf_counter_ns() anchored once to time.time_ns(): monotonic, sub-microsecond,
  and still epoch nanoseconds. loop.time() is not used for scheduling: uvloop's has 1 ms resolution.
  sent_ns is when the request's task starts; opening a connection, if it needs one, is service time.
- The loop's timers have 1 ms resolution and fire late; spinning on the loop instead would hold the
  core at 100 %, hide how busy the client really is, and lose the core to busy neighbours. So a
  ticker thread sleeps until each send time (tens of microseconds late; the last 1.5 ms of a long
  wait in short steps, see Engine._tick) and wakes the loop, which launches every request then due.
- One process holds about PER_PROCESS_RATE req/s with a sub-millisecond send lag. Above that the
  engine runs one worker process per core (the plan's `processes`, 0 = that many): request i of the
  schedule goes to worker i mod n, every worker warms its own connections, then all start from one
  t0 on the same monotonic clock and one epoch anchor, and their rows are merged by time into OUT.csv.
- Nothing is dropped: HTTP errors keep their status; timeouts and transport failures are code 0 with
  the error text; requests still in flight after drain_s are rows with "unfinished at drain".
- It asks for real-time scheduling (the plan's `realtime`), so that the client host's daemons do not
  delay sends; where that is not allowed it runs as it is, and the summary says which.
- SIGINT/SIGTERM stop the schedule, give in-flight requests a short grace, write every row and the
  summary (with the count scheduled but never sent), and exit 130. The coordinator of several
  workers passes the signal on to each of them, then merges what they wrote.

Rows are streamed to OUT.csv as requests complete (completion order; readers sort by seq); merged
rows are in time order. Just before the first send a JSON line {"event": "start", "t0_ns": ...} goes
to stderr; the last line on stdout is a JSON summary.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import csv
import ctypes
import gc
import json
import math
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, TextIO, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

# Declared first so that the type checker knows the name may hold None (uvloop is optional on hosts).
uvloop: ModuleType | None
try:
    import uvloop
except ImportError:  # the engine still runs, at a lower ceiling
    uvloop = None

COLUMNS = ("phase", "seq", "intended_ns", "sent_ns", "done_ns", "code", "bytes_out", "bytes_in", "error")
EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
EXIT_WORKER_FAILED = 1
SWITCH_INTERVAL_S = 0.0001  # how long the loop may keep the GIL from the ticker that wants to wake it
TICK_POLL_S = 0.00005  # how often the ticker looks again while the loop catches up
FINE_LEAD_NS = 1_500_000  # longer waits end this early; the rest is slept in short steps (Engine._tick)
FINE_STEP_NS = 100_000
START_DELAY_NS = 20_000_000  # room between the end of warming and t0
INTERRUPT_GRACE_S = 1.0  # after SIGINT, in-flight replies get this long before they are cut off
WARM_TIMEOUT_S = 2.0  # a slow or dead target must not hold the start: its rows will show why
READY_TIMEOUT_S = 60.0  # a worker that neither warms nor fails within this is stuck
ERROR_CHARS = 300
PR_SET_TIMERSLACK = 29  # linux/prctl.h
REALTIME_PRIORITY = 10  # low among real-time priorities: kernel threads (1-99) that matter stay above
PER_PROCESS_RATE = 2000.0  # req/s one process sends with a send-lag p99 under 1 ms (benchmarks/engine.py)
# The validity gates as kit/results/validity.py states them (and why) and applies them to stored rows:
# the send lag within max(1 ms, 5 % of the latency it is added to), judged at p99 over more than 100
# sends (else the second-worst); the rate at least 99 % of the schedule's own, never the nominal one.
MAX_SEND_LAG_MS = 1.0
LAG_SHARE = 0.05
P99_SENDS = 100
MIN_ACHIEVED_SHARE = 0.99


class Clock:
    """Epoch nanoseconds derived from perf_counter_ns: monotonic and sub-microsecond.

    Workers take their coordinator's anchor, so that all their rows share one epoch conversion.
    """

    def __init__(self, epoch_ns: int | None = None, perf_ns: int | None = None) -> None:
        self.epoch_ns = time.time_ns() if epoch_ns is None else epoch_ns
        self.perf_ns = time.perf_counter_ns() if perf_ns is None else perf_ns

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


def processes_for(plan: dict[str, Any], cores: int) -> int:
    """How many processes send the plan: its explicit `processes`, else one per PER_PROCESS_RATE req/s
    of its highest phase rate, but never more than the cores this process may run on."""
    wanted = int(plan.get("processes", 1))
    if wanted > 0:
        return wanted
    peak = max(float(p["rate"]) for p in plan["phases"])
    return max(1, min(cores, math.ceil(peak / PER_PROCESS_RATE)))


@dataclass
class PhaseStats:
    """What the summary reports per phase; lags live in an array to stay out of the GC's way."""

    name: str
    rate: float
    start_ns: int  # offset from t0
    duration_ns: int
    scheduled: int = 0
    sent: int = 0
    last_sent_ns: int = 0  # on the same clock as t0
    lags_ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    # Per finished request, what the lag is judged against: done - intended and done - sent.
    latencies_ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    services_ns: array.array[int] = field(default_factory=lambda: array.array("q"))

    def finished(self, latency_ns: int, service_ns: int) -> None:
        self.latencies_ns.append(latency_ns)
        self.services_ns.append(service_ns)

    def report(self, t0_ns: int, stopped_ns: int | None) -> dict[str, Any]:
        lags = sorted(self.lags_ns)
        achieved = self.achieved_rate(t0_ns, stopped_ns)
        lag_p99 = _quantile_ms(lags, 0.99)
        reasons = lag_reasons(lags, sorted(self.latencies_ns), sorted(self.services_ns))
        # The schedule's own rate: under Poisson arrivals the draw's, not rate x duration.
        scheduled_rate = self.scheduled / (self.duration_ns / 1e9)
        if achieved < MIN_ACHIEVED_SHARE * scheduled_rate:
            rates = round(achieved, 1), round(scheduled_rate, 1)
            reasons.append(f"achieved rate {rates[0]} req/s < 99% of the {rates[1]} req/s scheduled")
        return {
            "rate": self.rate,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "not_sent": self.scheduled - self.sent,
            "achieved_rate": round(achieved, 3),
            "send_lag_p50_ms": _quantile_ms(lags, 0.50),
            "send_lag_p99_ms": lag_p99,
            "send_lag_max_ms": _quantile_ms(lags, 1.0),
            "valid": not reasons,
            "invalid_reason": " and ".join(reasons) + ": the client was the bottleneck" if reasons else "",
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


def lag_reasons(lags: list[int], latencies: list[int], services: list[int]) -> list[str]:
    """Why the send lag (sorted ns) may have moved the latency figures, or [] (kit.results.validity).

    a: the lag at p99, or with P99_SENDS sends or fewer the second-worst (a p99 there is the worst
    send itself), within max(1 ms, 5 % of the service p50); b: the lag's share of the latency p99,
    latency p99 - service p99, within max(1 ms, 5 % of the service p99). b speaks only when a did not.
    """
    n = len(lags)
    if n == 0:
        return []
    judged = (_quantile_ms(lags, 0.99) if n > P99_SENDS else lags[max(n - 2, 0)] / 1e6) or 0.0
    late = _limit(_quantile_ms(services, 0.50))
    if judged > late[0]:
        lag = round(judged, 3)
        which = f"second-worst of {n} sends" if n > 1 else "the only send"
        label = f"send-lag p99 {lag} ms" if n > P99_SENDS else f"send-lag {lag} ms ({which})"
        return [f"{label} > {_limit_text(late, 'median')}"]
    lat99, svc99 = _quantile_ms(latencies, 0.99), _quantile_ms(services, 0.99)
    if lat99 is None or svc99 is None:
        return []
    moved, limit = lat99 - svc99, _limit(svc99)
    if moved > limit[0]:
        return [f"the send lag added {round(moved, 3)} ms to the latency p99 (> {_limit_text(limit, 'p99')})"]
    return []


def _limit(figure_ms: float | None) -> tuple[float, float]:
    """(the allowance in ms, the figure it is a share of)."""
    figure = figure_ms or 0.0
    return max(MAX_SEND_LAG_MS, LAG_SHARE * figure), figure


def _limit_text(limit: tuple[float, float], what: str) -> str:
    if limit[0] <= MAX_SEND_LAG_MS:
        return f"{MAX_SEND_LAG_MS:g} ms"
    return f"{round(limit[0], 3)} ms, {100 * LAG_SHARE:g} % of the server's {what} {round(limit[1], 3)} ms"


def _quantile_ms(sorted_ns: list[int], q: float) -> float | None:
    """Linear interpolation between order statistics, as kit.results.aggregate computes it."""
    if not sorted_ns:
        return None
    pos = q * (len(sorted_ns) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_ns) - 1)
    return (sorted_ns[lo] + (sorted_ns[hi] - sorted_ns[lo]) * (pos - lo)) / 1e6


def plan_schedule(
    plan: dict[str, Any], share: int = 0, shares: int = 1
) -> tuple[list[PhaseStats], list[int], bytearray]:
    """Per-phase stats, and the send times (integer ns from t0) and phase indexes of requests
    share, share + shares, share + 2 * shares, ... of the plan: fixed before the run (open loop)."""
    raw = plan["phases"]
    sched = schedule(raw, str(plan.get("arrival", "constant")), int(plan.get("seed", 0)))[share::shares]
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


def _http_error(body: bytes, reason: str | None) -> str:
    """The start of an error reply's body (servers put their message there), else the reason phrase."""
    return " ".join(body[:ERROR_CHARS].decode("utf-8", "replace").split()) or (reason or "")


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())[:ERROR_CHARS]


# --- HTTP/1.1 -----------------------------------------------------------------------------------
# A small client of its own rather than aiohttp's: about a fifth of the CPU per request (see
# benchmarks/engine.py), which is what lets one process hold 2,000 req/s with a sub-millisecond send
# lag. It speaks exactly what a load test needs: one request per exchange, Content-Length, chunked or
# close-delimited replies, keep-alive or not, no redirects, no decompression, no cookies.
MAX_HEAD_BYTES = 65536
KEPT_BODY_BYTES = 4 * ERROR_CHARS  # enough of an error reply's body for the row's error text
# A sampled reply (every `sample_every`-th measured request) keeps its body up to this, for the kit to
# compare with the model's own outputs (kit/bench/outputs.py); a longer one is marked truncated.
SAMPLE_BODY_BYTES = 1 << 20


class HttpError(Exception):
    """A reply that could not be read as HTTP/1.1, or a connection that ended before its reply."""


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Origin:
    host: str
    port: int
    tls: bool

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"target URL {url!r} is not http(s)")
        return cls(parts.hostname, parts.port or (443 if tls else 80), tls)


def request_bytes(target: Target, keepalive: bool) -> bytes:
    """The whole request, built once per target: sending it is then one write."""
    parts = urlsplit(target.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    given = {k.lower() for k in target.headers}
    lines = [f"{target.method} {path} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {parts.netloc}")
    lines.extend(
        f"{k}: {v}" for k, v in target.headers.items() if k.lower() not in ("content-length", "connection")
    )
    if target.body or target.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(f"Content-Length: {len(target.body)}")
    if "user-agent" not in given:
        lines.append("User-Agent: serving-kit-engine")
    if not keepalive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + target.body


@dataclass
class Reply:
    code: int = 0
    reason: str = ""
    bytes_in: int = 0
    head: bytes = b""  # the start of the body, for error text
    keepalive: bool = True


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: a request written, its reply parsed as it arrives."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.closed = False
        self.buf = bytearray()
        self.reply = Reply()
        self.state = "head"  # head | length | chunk-size | chunk-data | chunk-end | trailers | close | done
        self.remaining = 0
        self.head_only = False
        self.keep = KEPT_BODY_BYTES

    def send(self, data: bytes, head_only: bool, keep: int = KEPT_BODY_BYTES) -> asyncio.Future[Reply]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.buf.clear()
        self.reply, self.state, self.remaining, self.head_only = Reply(), "head", 0, head_only
        self.keep = keep
        self.transport.write(data)
        return self.waiter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport is always a Transport; asyncio types the argument as its base.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.state == "close":  # a reply that ends with its connection
            self._finish()
        elif self.waiter is not None and not self.waiter.done():
            why = f": {_error_text(exc)}" if exc else ""
            self.waiter.set_exception(HttpError(f"server closed the connection before its reply ended{why}"))

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.abort()  # bytes nobody asked for: this connection cannot be trusted any more
            return
        self.buf += data
        try:
            while self.buf and self._step():
                pass
        except (HttpError, ValueError, UnicodeDecodeError) as exc:
            self.waiter.set_exception(exc if isinstance(exc, HttpError) else HttpError(f"bad reply: {exc}"))
            self.abort()

    def _step(self) -> bool:
        """Consume what the buffer holds for the current state; False when more bytes are needed."""
        buf, state = self.buf, self.state
        if state == "head":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise HttpError(f"reply head longer than {MAX_HEAD_BYTES} bytes")
                return False
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            self._head(head)
        elif state == "length":
            take = min(self.remaining, len(buf))
            self._body(buf, take)
            self.remaining -= take
            if self.remaining == 0:
                self._finish()
        elif state == "close":
            self._body(buf, len(buf))
        elif state == "chunk-size":
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(buf[:end]).split(b";")[0].strip(), 16)
            del buf[: end + 2]
            self.state, self.remaining = ("chunk-data", size) if size else ("trailers", 0)
        elif state == "chunk-data":
            take = min(self.remaining, len(buf))
            self._body(buf, take)
            self.remaining -= take
            if self.remaining == 0:
                self.state = "chunk-end"
        elif state == "chunk-end":
            if len(buf) < 2:
                return False
            del buf[:2]
            self.state = "chunk-size"
        elif state == "trailers":
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            del buf[: end + 2]
            if end == 0:
                self._finish()
        else:
            raise HttpError("bytes after the end of the reply")
        return self.state != "done"

    def _head(self, head: str) -> None:
        status, *lines = head.split("\r\n")
        version, _, rest = status.partition(" ")
        code_text, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code_text.isdigit():
            raise HttpError(f"not an HTTP/1.x reply: {status[:80]!r}")
        code = int(code_text)
        if 100 <= code < 200:
            return  # an interim reply (100 Continue): the real one follows
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        self.reply.code, self.reply.reason = code, reason
        self.reply.keepalive = "close" not in connection and (
            version == "HTTP/1.1" or "keep-alive" in connection
        )
        if self.head_only or code in (204, 304):
            self._finish()
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "chunk-size"
        elif "content-length" in headers:
            self.remaining = int(headers["content-length"])
            self.state = "length"
            if self.remaining == 0:
                self._finish()
        else:
            self.state, self.reply.keepalive = "close", False

    def _body(self, buf: bytearray, take: int) -> None:
        reply = self.reply
        if len(reply.head) < self.keep:
            reply.head += bytes(buf[: min(take, self.keep - len(reply.head))])
        reply.bytes_in += take
        del buf[:take]

    def _finish(self) -> None:
        self.state = "done"
        if self.buf:
            self.reply.keepalive = False  # the server sent more than one reply: do not reuse
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.reply)


class Pool:
    """Idle connections per origin, most recently used first; a closed one is forgotten at once."""

    def __init__(self, keepalive: bool) -> None:
        self.keepalive = keepalive
        self.idle: dict[Origin, list[Connection]] = {}
        self.all: set[Connection] = set()
        self.tls: ssl.SSLContext | None = None

    async def exchange(
        self, origin: Origin, data: bytes, head_only: bool, keep: int = KEPT_BODY_BYTES
    ) -> Reply:
        conn = self._take(origin)
        if conn is None:
            conn = await self._open(origin)
        try:
            reply = await conn.send(data, head_only, keep)
        except BaseException:
            conn.abort()  # cancelled or timed out mid-exchange: the connection's state is unknown
            raise
        if reply.keepalive and self.keepalive and not conn.closed:
            self.idle.setdefault(origin, []).append(conn)
        else:
            conn.abort()
        return reply

    def _take(self, origin: Origin) -> Connection | None:
        idle = self.idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _open(self, origin: Origin) -> Connection:
        loop = asyncio.get_running_loop()
        ssl_context: Any = None
        if origin.tls:
            import ssl

            ssl_context = self.tls = self.tls or ssl.create_default_context()
        try:
            _, conn = await loop.create_connection(
                lambda: Connection(self), origin.host, origin.port, ssl=ssl_context
            )
        except OSError as exc:
            raise HttpError(f"Cannot connect to {origin.host}:{origin.port}: {_error_text(exc)}") from None
        self.all.add(conn)
        return conn

    def forget(self, conn: Connection) -> None:
        self.all.discard(conn)

    def close(self) -> None:
        for conn in list(self.all):
            conn.abort()
        self.all.clear()
        self.idle.clear()


class Engine:
    """One process's share of the plan: all of it, or every `shares`-th request from `share` on."""

    def __init__(self, plan: dict[str, Any], share: int = 0, shares: int = 1) -> None:
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
        self.keepalive = bool(plan.get("keepalive", True))
        self.origins = [Origin.of(t.url) for t in self.targets]
        self.requests = [request_bytes(t, self.keepalive) for t in self.targets]
        self.timeout_s = float(plan.get("timeout_s", 10.0))
        self.pool = Pool(self.keepalive)
        self.share, self.shares = share, shares
        self.worker = shares > 1  # started by a coordinator, which says when t0 is
        self.clock = Clock()
        self.phases, self.due_ns, self.phase_of = plan_schedule(plan, share, shares)
        self.t0_ns = 0
        self.next_i = 0  # the next request to launch (written on the loop, read by the ticker)
        self.wake_pending = False
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
        self.sample_every = int(plan.get("sample_every") or 0)
        self.samples: TextIO | None = None  # set by record_to() when replies are sampled

    def record_to(self, out: TextIO, samples: TextIO | None = None) -> None:
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(COLUMNS)
        self.samples = samples

    def sampled(self, seq: int, phase: str) -> bool:
        """Every `sample_every`-th request of the measured phase keeps its reply's body."""
        return (
            self.samples is not None
            and self.sample_every > 0
            and phase == "measure"
            and seq % self.sample_every == 0
        )

    # --- the run --------------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        # The pool is unbounded (open loop: a busy connection never holds a request back), and
        # redirects are not followed, so that each row is exactly one HTTP exchange.
        try:
            await self._step(self._warm())
            # Objects alive now (modules, the schedule) never need scanning again: shorter GC pauses.
            gc.collect()
            gc.freeze()
            if not self.interrupted:
                await self._step(self._await_t0() if self.worker else self._own_t0())
            if not self.interrupted and self.t0_ns:
                await self._step(self._send_all())
            await self._drain()
        finally:
            self.pool.close()

    async def _own_t0(self) -> None:
        self.t0_ns = time.perf_counter_ns() + START_DELAY_NS
        announce_start(self.clock.epoch(self.t0_ns))

    async def _await_t0(self) -> None:
        """Tell the coordinator this worker is warm, then take t0 and the epoch anchor from it.

        The line is `go T0 EPOCH PERF` (perf_counter_ns is one system-wide monotonic clock on Linux,
        so the coordinator's t0 means the same instant here). End of input instead means: stop.
        """
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        try:
            print("ready", flush=True)
            words = (await reader.readline()).decode().split()
        finally:
            transport.close()
        if len(words) != 4 or words[0] != "go":
            self._on_signal()
            return
        self.clock = Clock(int(words[2]), int(words[3]))
        self.t0_ns = int(words[1])

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

    async def _warm(self) -> None:
        """Open keep-alive connections to every origin before t0, so early requests don't pay for them."""
        count = int(self.plan.get("warm_connections", 0)) if self.keepalive else 0
        if count <= 0:
            return
        first_per_origin = {o: i for i, o in reversed(list(enumerate(self.origins)))}

        async def one(i: int) -> None:
            with contextlib.suppress(HttpError, OSError, TimeoutError):
                # a dead target shows in the measured rows, with its error, not here
                await self.pool.exchange(self.origins[i], self.requests[i], self.targets[i].method == "HEAD")

        jobs = [one(i) for i in first_per_origin.values() for _ in range(count)]
        with contextlib.suppress(TimeoutError):  # a slow target: its connections open after t0 instead
            await asyncio.wait_for(asyncio.gather(*jobs), timeout=min(self.timeout_s, WARM_TIMEOUT_S))

    async def _send_all(self) -> None:
        """Launch every request when it is due; a ticker thread says when, the loop does the sending."""
        loop = asyncio.get_running_loop()
        self.all_launched = loop.create_future()
        stop = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(loop, stop), name="ticker", daemon=True)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)  # the ticker gets the GIL this soon when it must wake us
        ticker.start()
        try:
            self._launch_due()
            await self.all_launched
        finally:
            stop.set()
            ticker.join()
            sys.setswitchinterval(switch)
            self.launched = self.next_i  # also when a signal cancels this: the rest are counted as not sent

    def _tick(self, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        """Sleep until the next request is due, then wake the loop to launch it.

        A thread rather than the loop's own timers: those have 1 ms resolution and fire late. A
        thread's sleep oversleeps by tens of microseconds (less once its timer slack is cut), but by
        a millisecond or more when the core went idle meanwhile: a virtual CPU that halted must be
        scheduled again. So a wait longer than FINE_LEAD_NS ends that early, and the rest is slept
        in FINE_STEP_NS steps, which keep the core awake for a few % of it. Spinning instead would
        hold the core and, worse, lose it to any busy neighbour: the scheduler favours the thread
        that sleeps often when it wakes, not the one that has used its share.
        """
        _cut_timer_slack()
        now_ns, sleep, due, t0, n = (
            time.perf_counter_ns,
            time.sleep,
            self.due_ns,
            self.t0_ns,
            len(self.due_ns),
        )
        stepping = False
        while not stop.is_set():
            i = self.next_i
            if i >= n:
                return
            if self.wake_pending:
                sleep(TICK_POLL_S)  # the loop is busy: it launches what is due when it gets there
                continue
            wait = t0 + due[i] - now_ns()
            if wait > FINE_LEAD_NS:
                stop.wait((wait - FINE_LEAD_NS) / 1e9)
                stepping = True
            elif wait > 0:
                sleep(min(wait, FINE_STEP_NS) / 1e9 if stepping else wait / 1e9)
            else:
                stepping = False
                self.wake_pending = True
                loop.call_soon_threadsafe(self._launch_due)

    def _launch_due(self) -> None:
        """On the loop: start, as its own task, every request whose time has come."""
        if self.interrupted or self.all_launched.done():
            return
        now = time.perf_counter_ns()
        due, phase_of, tasks, t0 = self.due_ns, self.phase_of, self.tasks, self.t0_ns
        share, shares, n, i = self.share, self.shares, len(due), self.next_i
        while i < n and t0 + due[i] <= now:
            task = asyncio.create_task(self._fire(share + i * shares, phase_of[i], t0 + due[i]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            self.in_flight += 1
            i += 1
        self.next_i = i
        self.wake_pending = False
        if i >= n:
            self.all_launched.set_result(None)

    async def _fire(self, seq: int, phase_index: int, due_ns: int) -> None:
        k = seq % len(self.targets)
        target = self.targets[k]
        sent_ns = time.perf_counter_ns()
        phase = self.phases[phase_index]
        phase.sent += 1
        phase.last_sent_ns = sent_ns
        phase.lags_ns.append(sent_ns - due_ns)
        code, bytes_in, error, body = 0, 0, "", b""
        sampled = self.sampled(seq, phase.name)
        keep = SAMPLE_BODY_BYTES if sampled else KEPT_BODY_BYTES
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = await self.pool.exchange(
                    self.origins[k], self.requests[k], target.method == "HEAD", keep
                )
            code, bytes_in, body = reply.code, reply.bytes_in, reply.head
            if code >= 400:
                error = _http_error(reply.head, reply.reason)
        except asyncio.CancelledError:
            error = self.cut_reason
            self.unfinished += 1
        except TimeoutError:
            error = f"timeout after {self.timeout_s:g}s"
        except HttpError as exc:
            error = str(exc)[:ERROR_CHARS]
        except Exception as exc:  # never drop a row: whatever went wrong is the row's error
            error = _error_text(exc)
        done_ns = time.perf_counter_ns()
        phase.finished(done_ns - due_ns, done_ns - sent_ns)
        epoch = self.clock.epoch
        times = (epoch(due_ns), epoch(sent_ns), epoch(done_ns))
        self.writer.writerow((phase.name, seq, *times, code, len(target.body), bytes_in, error))
        if sampled and self.samples is not None:
            sample = {"seq": seq, "code": code, "truncated": bytes_in > len(body), "error": error}
            self.samples.write(json.dumps({**sample, "body_b64": base64.b64encode(body).decode()}) + "\n")
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
        t0 = self.clock.epoch(self.t0_ns) if self.t0_ns else None
        stopped = self.clock.epoch(self.stopped_ns) if self.stopped_ns is not None else None
        per_phase = {}
        for p in self.phases:
            if p.sent:
                p.last_sent_ns = self.clock.epoch(p.last_sent_ns)
            per_phase[p.name] = p.report(t0 or 0, stopped)
        return {
            "scheduled": scheduled,
            "sent": self.launched,
            "not_sent": scheduled - self.launched,
            "completed": self.completed,
            "errors": self.errors,
            "unfinished": self.unfinished,
            "interrupted": self.interrupted,
            "stopped_ns": stopped,
            "t0_ns": t0,
            "loop": "uvloop" if uvloop is not None else "asyncio",
            "processes": 1,
            "cpu_s": round(_cpu_seconds(), 3),
            "per_phase": per_phase,
        }


def _cut_timer_slack() -> None:
    """Linux lets a thread's timed waits end up to 50 us late (timer slack); ask for 1 ns instead."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def announce_start(t0_epoch_ns: int) -> None:
    """Let whoever watches (the kit, the benchmark) know when the schedule starts, before it does."""
    print(json.dumps({"event": "start", "t0_ns": t0_epoch_ns}), file=sys.stderr, flush=True)


async def _first(*coros: Any, timeout: float) -> None:
    """Return when the first of the coroutines finishes or the timeout passes; cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


# --- several processes --------------------------------------------------------------------------
def samples_path(out_path: str) -> str:
    """Where the sampled replies' bodies go beside the rows (JSON lines: seq, code, body_b64...)."""
    return f"{out_path}.samples.jsonl"


def merge_samples(parts: list[str], out_path: str) -> None:
    with open(out_path, "w") as out:
        for part in parts:
            with contextlib.suppress(FileNotFoundError), open(part) as fh:
                out.writelines(fh)


def merge_rows(parts: list[str], out: IO[str]) -> list[list[str]]:
    """The workers' rows, merged by intended time (then seq) into one CSV; returns them, parsed."""
    rows: list[list[str]] = []
    for path in parts:
        with contextlib.suppress(FileNotFoundError), open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is not None and tuple(header) != COLUMNS:
                raise ValueError(f"{path} is not an engine CSV (header {header[:3]}...)")
            rows.extend(r for r in reader if len(r) == len(COLUMNS))
    rows.sort(key=lambda r: (int(r[2]), int(r[1])))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return rows


def merged_summary(
    plan: dict[str, Any],
    rows: list[list[str]],
    workers: list[dict[str, Any]],
    *,
    t0_ns: int | None,
    stopped_ns: int | None,
) -> dict[str, Any]:
    """One summary for the whole plan: counts added up, send lags and rates recomputed from the rows
    (every sent request has exactly one row), per-phase counts from the full schedule."""
    phases, due, _ = plan_schedule(plan)
    index = {p.name: p for p in phases}
    errors = 0
    for r in rows:
        p = index[r[0]]
        sent = int(r[3])
        p.sent += 1
        p.lags_ns.append(sent - int(r[2]))
        p.finished(int(r[4]) - int(r[2]), int(r[4]) - sent)
        p.last_sent_ns = max(p.last_sent_ns, sent)
        if not 200 <= int(r[5]) < 300:
            errors += 1
    sent_total = sum(int(w.get("sent", 0)) for w in workers)
    return {
        "scheduled": len(due),
        "sent": sent_total,
        "not_sent": len(due) - sent_total,
        "completed": len(rows),
        "errors": errors,
        "unfinished": sum(int(w.get("unfinished", 0)) for w in workers),
        "interrupted": stopped_ns is not None or any(w.get("interrupted") for w in workers),
        "stopped_ns": stopped_ns,
        "t0_ns": t0_ns,
        "loop": workers[0].get("loop", "unknown") if workers else "unknown",
        "processes": len(workers),
        "cpu_s": round(sum(float(w.get("cpu_s", 0)) for w in workers), 3),
        "per_phase": {p.name: p.report(t0_ns or 0, stopped_ns) for p in phases},
    }


class Coordinator:
    """Starts n workers (this same file), gives them one t0, passes signals on, merges their rows."""

    def __init__(self, plan_path: str, out_path: str, plan: dict[str, Any], n: int) -> None:
        self.plan_path, self.out_path, self.plan, self.n = plan_path, out_path, plan, n
        self.procs: list[subprocess.Popen[str]] = []
        self.clock = Clock()
        self.stopped_ns: int | None = None
        self.failed: list[str] = []

    def parts(self) -> list[str]:
        return [f"{self.out_path}.part{k}" for k in range(self.n)]

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stopped_ns is None:
            self.stopped_ns = self.clock.epoch(time.perf_counter_ns())
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGINT)

    def run(self) -> dict[str, Any]:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        cores = sorted(os.sched_getaffinity(0))
        for k, part in enumerate(self.parts()):
            core = str(cores[k]) if self.n <= len(cores) else "-"  # one worker per core when they fit
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(k), str(self.n), core]
            self.procs.append(
                subprocess.Popen(
                    [*cmd, self.plan_path, part], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
        early = [self._ready(p) for p in self.procs]
        t0 = None
        if self.stopped_ns is None and all(line is None for line in early):
            t0_perf = time.perf_counter_ns() + START_DELAY_NS
            t0 = self.clock.epoch(t0_perf)
            go = f"go {t0_perf} {self.clock.epoch_ns} {self.clock.perf_ns}\n"
            for p in self.procs:
                self._tell(p, go)
            announce_start(t0)
        for p in self.procs:
            self._tell(p, None)  # end of input: a worker still waiting for t0 stops
        pairs = enumerate(zip(self.procs, early, strict=True))
        workers = [self._finish(p, k, line) for k, (p, line) in pairs]
        with open(self.out_path, "w", newline="", buffering=1 << 16) as out:
            rows = merge_rows(self.parts(), out)
        if self.plan.get("sample_every"):
            merge_samples([samples_path(p) for p in self.parts()], samples_path(self.out_path))
        for part in self.parts():
            for path in (part, samples_path(part)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        summary = merged_summary(self.plan, rows, workers, t0_ns=t0, stopped_ns=self.stopped_ns)
        if self.failed:
            summary["worker_failures"] = self.failed
        return summary

    def _ready(self, p: subprocess.Popen[str]) -> str | None:
        """None once the worker says it is warm; else what it printed instead (it stopped early)."""
        assert p.stdout is not None
        line = p.stdout.readline()
        return None if line.strip() == "ready" else line

    @staticmethod
    def _tell(p: subprocess.Popen[str], text: str | None) -> None:
        assert p.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            if text is None:
                p.stdin.close()
            else:
                p.stdin.write(text)
                p.stdin.flush()

    def _finish(self, p: subprocess.Popen[str], k: int, early: str | None) -> dict[str, Any]:
        assert p.stdout is not None
        text = (early or "") + p.stdout.read()
        rc = p.wait()
        for line in reversed(text.strip().splitlines()):
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    parsed: dict[str, Any] = json.loads(line)
                    if rc not in (0, EXIT_INTERRUPTED):
                        self.failed.append(f"worker {k} exited {rc}")
                    return parsed
        self.failed.append(f"worker {k} exited {rc} without a summary")
        return {}


# --- entry points -------------------------------------------------------------------------------
def _raise_fd_limit() -> None:
    """An open loop against a stalled server holds one connection per request in flight: allow many."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _raise_priority(wanted: bool) -> str:
    """Ask to run before the client host's other processes: a send delayed because a daemon held
    the core is the client's lag, not the server's. Real-time (SCHED_FIFO, a low priority) where
    allowed, else nice -10, else as it is (an unprivileged container allows neither); the summary
    says which. The kernel keeps 5 % of each second for the rest (sched_rt_runtime_us)."""
    if not wanted:
        return "normal"
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        return f"fifo {REALTIME_PRIORITY}"
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        return "nice -10"
    return "normal (not permitted)"


def _load_plan(path: str) -> dict[str, Any]:
    with open(path) as fh:
        plan: dict[str, Any] = json.load(fh)
    if not plan.get("targets") or not plan.get("phases"):
        raise ValueError("the plan needs at least one target and one phase")
    return plan


def main(argv: list[str]) -> int:
    worker: tuple[int, int, str] | None = None
    if argv[:1] == ["--worker"] and len(argv) == 6:
        worker, argv = (int(argv[1]), int(argv[2]), argv[3]), argv[4:]
    if len(argv) != 2:
        print("usage: engine.py PLAN.json OUT.csv", file=sys.stderr)
        return EXIT_USAGE
    if worker is not None:
        # The coordinator passes signals on once this worker's loop handles them; one that comes
        # earlier is not lost: the coordinator then ends this worker's input instead of sending t0.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Until the loop installs its own handlers, SIGTERM behaves like Ctrl-C: the CSV is still written.
    signal.signal(signal.SIGTERM, signal.SIG_IGN if worker else signal.default_int_handler)
    _raise_fd_limit()
    try:
        plan = _load_plan(argv[0])
        # Before any thread or worker starts: they inherit it.
        scheduling = _raise_priority(bool(plan.get("realtime", False))) if worker is None else ""
        n = processes_for(plan, len(os.sched_getaffinity(0))) if worker is None else 1
        if n > 1:
            summary = {**Coordinator(argv[0], argv[1], plan, n).run(), "scheduling": scheduling}
            print(json.dumps(summary), flush=True)
            if summary.get("worker_failures"):
                print(f"engine: {'; '.join(summary['worker_failures'])}", file=sys.stderr)
                return EXIT_WORKER_FAILED
            return EXIT_INTERRUPTED if summary["interrupted"] else 0
        if worker is not None and worker[2] != "-":
            os.sched_setaffinity(0, {int(worker[2])})
        engine = Engine(plan, *(worker[:2] if worker else (0, 1)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"engine: cannot run this plan: {_error_text(exc)}", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.ExitStack() as closing:  # closing the file puts every row gathered so far on disk
        try:
            out = closing.enter_context(open(argv[1], "w", newline="", buffering=1 << 16))
        except OSError as exc:
            print(f"engine: cannot write the rows: {_error_text(exc)}", file=sys.stderr)
            return EXIT_USAGE
        samples = None
        if engine.sample_every:
            try:
                samples = closing.enter_context(open(samples_path(argv[1]), "w", buffering=1 << 16))
            except OSError as exc:
                print(f"engine: cannot write the sampled replies: {_error_text(exc)}", file=sys.stderr)
                return EXIT_USAGE
        engine.record_to(out, samples)
        _run(engine)
    summary = engine.summary()
    if worker is None:
        summary["scheduling"] = scheduling
    print(json.dumps(summary), flush=True)
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
