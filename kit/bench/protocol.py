"""The bench protocol: what runs for each cell, in which order, and when a cell's numbers count.

For every (framework, scenario) pair: each payload size x each rate x each repetition is a cell;
a cell is a warm-up (rows kept, flagged `warmup`) then the measured phase, back to back on one
connection pool, then a cooldown before the next cell. Rates are a list, or found by a sweep.

The sweep looks for the highest rate whose p99 meets an SLO: it doubles the rate from the first
one while the SLO holds (halves it while it does not), then bisects between the highest rate that
met it and the lowest that missed it, until they are within `precision` of each other. Two caps
bound it: a highest rate and a number of probes. A probe meets the SLO when every repetition is a
valid cell (the client was not the bottleneck), at most 1 % of its requests failed (an `overloaded`
repetition misses it) and its requests show p99 <= SLO by kit.results.tail's early-stopping rule
(few requests over the SLO among enough of them: a p99 from too few is not called met); a probe that
cannot be judged (the client limited it, or Ctrl-C) ends the sweep.

Validity is decided per cell from the stored rows by kit.results.validity (the send lag against the
latency it could have moved, the rate against the schedule's own); the engine's own account, which
also knows the requests it scheduled but never sent, can only add reasons to that. A cell whose
measured requests failed beyond the same 1 % is `overloaded`: kept, never counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pydantic import ValidationError

from kit.config import BenchSettings
from kit.errors import UsageError
from kit.load.plan import Phase, check_schedule
from kit.results import tail, validity
from kit.results.cells import CellKey

#: The share of failed requests a counted cell, and a sweep probe that meets its SLO, may have.
MAX_SWEEP_ERROR_RATE = validity.MAX_ERROR_RATE
CLIENT_CPU_WARN_PCT = 80.0


def resolve(base: BenchSettings, overrides: dict[str, Any] | None) -> BenchSettings:
    """The profile's settings with the command line's options laid over them, validated again."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None and v != ()}
    if not given:
        return base
    try:
        return BenchSettings(**{**base.model_dump(), **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "bench"
        msg = first["msg"].removeprefix("Value error, ")
        hint = "See `kit bench --help` for every option"
        raise UsageError(f"bench settings: {where}: {msg}", hint) from None


def phases(settings: BenchSettings, rate: float) -> list[Phase]:
    """Warm-up (when there is one) then the measured phase, at the cell's rate."""
    measured = [Phase("measure", rate, measured_seconds(settings, rate))]
    return [Phase("warmup", rate, settings.warmup_s), *measured] if settings.warmup_s > 0 else measured


def measured_seconds(settings: BenchSettings, rate: float) -> float:
    """The measured phase's length: `duration_s`, stretched (up to `max_duration_s`) so that it holds
    `min_requests` at the rate. Poisson counts scatter by their square root: asking for m + 3 sqrt(m)
    leaves fewer than m in about one phase in a thousand."""
    m = settings.min_requests
    if m <= 0:
        return settings.duration_s
    wanted = math.ceil((m + 3 * math.sqrt(m)) / rate)
    return max(settings.duration_s, min(settings.max_duration_s, float(wanted)))


def lowest_judgeable_rate(settings: BenchSettings) -> float:
    """The lowest rate a sweep halves to: 1 req/s, or where `max_duration_s` no longer holds
    `min_requests` (below it no probe could show an SLO met, and each would last the longest)."""
    m = settings.min_requests
    return max(1.0, (m + 3 * math.sqrt(m)) / settings.max_duration_s) if m > 0 else 1.0


def slo_counts(rows: pl.DataFrame, slo_ms: float) -> tuple[int, int]:
    """(measured requests, those over the SLO or failed): what a tail verdict rests on (tail.py).
    Latency is from the scheduled send, as every latency the kit reports."""
    measured = rows.filter(pl.col("phase") == "measure")
    ok = pl.col("code").is_between(200, 299).fill_null(False)
    late = (pl.col("latency_ns") > int(slo_ms * 1e6)).fill_null(True)
    over = measured.filter(~ok | late).height
    return measured.height, over


def slo_record(rows: pl.DataFrame, slo_ms: float) -> dict[str, Any]:
    """The cell's SLO account for its manifest entry: counts, the tail verdict and why."""
    n, over = slo_counts(rows, slo_ms)
    return {
        "slo_p99_ms": slo_ms,
        "requests": n,
        "over": over,
        "verdict": tail.verdict(n, over),
        "why": "" if tail.verdict(n, over) == tail.MEETS else tail.why(n, over, slo_ms),
    }


def cells(
    settings: BenchSettings, framework: str, scenario: str, rates: tuple[float, ...] | None = None
) -> list[CellKey]:
    """The pair's cells: every payload x rate x repetition, repetitions of one rate back to back."""
    return [
        CellKey(framework, scenario, p, r, k)
        for p in settings.payloads
        for r in (rates or settings.rates)
        for k in range(settings.repetitions)
    ]


def check_schedules(settings: BenchSettings, seed: int) -> None:
    """Every cell's measured phase schedules at least one request (its seed is `seed + rep`, as the
    cell's plan has it): refused before any host is touched, not after earlier cells were measured.
    A sweep's rates are not known before it runs; its cells are checked as their plans are built."""
    if settings.sweep:
        return
    for rate in settings.rates:
        for rep in range(settings.repetitions):
            check_schedule(phases(settings, rate), settings.arrival, seed + rep)


def verdict(
    summary: dict[str, Any], engine: dict[str, Any] | None, rows: pl.DataFrame | None = None
) -> tuple[str, str]:
    """(status, reason) of a cell that ran to its end, from its summary row and the engine's account.

    `failed` when no measured request got a 2xx; `invalid` when the rows' gates fail, or when the
    engine scheduled requests it never sent or its own gates fail; `overloaded` when more than
    MAX_SWEEP_ERROR_RATE of the measured requests failed; else `ok`. Invalid comes first: a client
    that was the bottleneck may have caused failures itself (a starved client reads its replies
    late), so the server cannot be called overloaded then. `rows`, when given, name the first failure.
    """
    if not summary or summary.get("ok", 0) == 0:
        return "failed", "no measured request succeeded"
    reasons = [str(summary.get("invalid_reason") or "")] if not summary.get("valid", True) else []
    measured = ((engine or {}).get("per_phase") or {}).get("measure") or {}
    not_sent = int(measured.get("not_sent") or 0)
    if not_sent:
        reasons.append(f"{not_sent} scheduled requests were never sent")
    if measured and not measured.get("valid", True) and not reasons:
        reasons.append(f"the engine's own account: {measured.get('invalid_reason')}")
    reasons = [r for r in reasons if r]
    first = first_error(rows) if rows is not None else ""
    over = validity.overload_reason(int(summary.get("requests") or 0), int(summary.get("errors") or 0), first)
    if reasons:
        return "invalid", "; ".join(reasons + ([f"also overloaded: {over}"] if over else []))
    return ("overloaded", over) if over else ("ok", "")


def first_error(rows: pl.DataFrame) -> str:
    """The first failed measured request, by send time: its code and error text, or ""."""
    bad = rows.filter(
        (pl.col("phase") == "measure") & ~pl.col("code").is_between(200, 299).fill_null(False)
    ).sort("sent_ns")
    if bad.height == 0:
        return ""
    row = bad.row(0, named=True)
    return f"code {row['code']} {row['error'] or ''}".strip()


#: Connection errors that only a missing listener or host gives: nothing listens on the port (the
#: framework's process is gone) or the host does not answer ARP (the host is gone). A reset or a
#: connection closed before its reply is not among them: servers do that to one request now and then
#: (BentoML reset one of 250 in a smoke run) and stay up; those are errors, judged by a probe after
#: the cell (Kit._bench_cell).
GONE = (
    "Connection refused",
    "No route to host",
    "Host is unreachable",
    "Host is down",
    "Network is unreachable",
)


#: What a failed cell's reason tells the user to do about a server that went away.
LOOK = "check it with `kit status` (`kit up` starts a stopped host)"


def server_failure(rows: pl.DataFrame, server: str) -> str:
    """Why the cell failed because `server` stopped answering during the measured phase, or "".

    A measured request that found nothing listening, or no host, means the framework's process or its
    host went away: the cell's latencies then describe a different system and it is `failed`, however
    many requests succeeded around the gap.
    """
    measured = rows.filter(pl.col("phase") == "measure")
    error = pl.col("error").fill_null("")
    lost = measured.filter(
        (pl.col("code") == 0)
        & error.str.starts_with("Cannot connect to")
        & pl.any_horizontal([error.str.contains(g, literal=True) for g in GONE])
    ).sort("sent_ns")
    if lost.height == 0:
        return ""
    return (
        f"{server} stopped answering during the measured phase: {lost.height}/{measured.height} requests "
        f"found it gone (first: {lost['error'][0]}); {LOOK}"
    )


def client_cpu_warning(mean_cpu_pct: float | None) -> str:
    """The warning for a client host busier than CLIENT_CPU_WARN_PCT during the measured phase."""
    if mean_cpu_pct is None or mean_cpu_pct <= CLIENT_CPU_WARN_PCT:
        return ""
    return (
        f"client CPU {mean_cpu_pct:.0f} % during the measured phase (over {CLIENT_CPU_WARN_PCT:.0f} %): "
        "the client may have limited the load; use more client cores or a lower rate"
    )


# --- the SLO sweep ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    rate: float
    p99_ms: float | None
    outcome: str  # meets | misses | unjudged
    why: str = ""
    requests: int | None = None  # measured requests the verdict rests on, over every repetition
    over_slo: int | None = None  # of them, over the SLO or failed


@dataclass
class Sweep:
    """Bisection for the highest rate meeting a p99 SLO; pure, so the orchestrator only feeds it."""

    slo_p99_ms: float
    start: float
    max_rate: float
    max_probes: int
    precision: float = 0.05
    min_rate: float = 1.0
    lo: float | None = None  # highest rate that met the SLO
    hi: float | None = None  # lowest rate that missed it
    probes: list[Probe] = field(default_factory=list)
    stopped: str = ""

    def next_rate(self) -> float | None:
        """The next rate to probe, or None once the sweep is over (`stopped` says why)."""
        if self.stopped:
            return None
        if len(self.probes) >= self.max_probes:
            return self._stop(f"probe cap of {self.max_probes} reached")
        if not self.probes:
            return min(self.start, self.max_rate)
        if self.hi is None:
            assert self.lo is not None
            if self.lo >= self.max_rate:
                return self._stop(f"the SLO held up to the rate cap of {self.max_rate:g} req/s")
            return self._fresh(min(self.lo * 2, self.max_rate))
        if self.lo is None:
            if self.hi / 2 < self.min_rate:
                return self._stop(f"the SLO was missed even at {self.hi:g} req/s")
            return self._fresh(round_rate(self.hi / 2))
        if self.hi - self.lo <= self.precision * self.lo:
            return self._stop(f"bracketed within {self.precision:.0%}")
        mid = round_rate((self.lo + self.hi) / 2)
        if not self.lo < mid < self.hi:
            return self._stop("bracketed to the rate's resolution")
        return self._fresh(mid)

    def record(
        self,
        rate: float,
        p99_ms: float | None,
        outcome: str,
        why: str = "",
        counts: tuple[int, int] | None = None,
    ) -> None:
        if outcome not in ("meets", "misses", "unjudged"):
            raise ValueError(f"unknown sweep outcome {outcome!r}")
        requests, over = counts if counts is not None else (None, None)
        self.probes.append(Probe(rate, p99_ms, outcome, why, requests, over))
        if outcome == "unjudged":
            self._stop(f"{rate:g} req/s could not be judged: {why}")
        elif outcome == "meets":
            self.lo = rate if self.lo is None else max(self.lo, rate)
        else:
            self.hi = rate if self.hi is None else min(self.hi, rate)

    @property
    def best(self) -> float | None:
        return self.lo

    def report(self) -> dict[str, Any]:
        return {
            "slo_p99_ms": self.slo_p99_ms,
            "best_rate": self.best,
            "lowest_missing_rate": self.hi,
            "stopped_because": self.stopped,
            "probes": [p.__dict__ for p in self.probes],
        }

    def _fresh(self, rate: float) -> float | None:
        if any(p.rate == rate for p in self.probes):
            return self._stop(f"{rate:g} req/s was probed already")
        return rate

    def _stop(self, why: str) -> float | None:
        """Ends the sweep (the first reason stays) and returns next_rate's "no rate": always None."""
        self.stopped = self.stopped or why
        return None


def judge(records: list[dict[str, Any]], slo_p99_ms: float) -> tuple[str, float | None, str]:
    """One probe's outcome from its repetitions' cell records: (outcome, worst p99, why).

    The tail is judged on the repetitions' requests pooled (tail.verdict: early stopping, so that a
    p99 that looks within the SLO from too few requests is not called met); a record from before
    cells counted their requests over the SLO is judged by its measured p99."""
    p99s = [r.get("summary", {}).get("p99_ms") for r in records]
    worst = max((p for p in p99s if p is not None), default=None)
    for r in records:
        if r["status"] in ("invalid", "partial"):
            return "unjudged", worst, f"rep {r['rep']} is {r['status']}: {r['reason']}"
    for r in records:
        s = r.get("summary") or {}
        if r["status"] == "failed":
            return "misses", worst, f"rep {r['rep']} failed: {r['reason']}"
        if r["status"] == "overloaded":  # the server, not the client: the SLO was missed, not unjudged
            return "misses", worst, f"rep {r['rep']} overloaded: {r['reason']}"
        if (s.get("error_rate") or 0.0) > MAX_SWEEP_ERROR_RATE:
            return "misses", worst, f"rep {r['rep']}: {s['error_rate']:.1%} of requests failed"
    counts = pooled(records, slo_p99_ms)
    if counts is not None:
        n, over = counts
        if tail.verdict(n, over) != tail.MEETS:
            return "misses", worst, tail.why(n, over, slo_p99_ms)
        return "meets", worst, ""
    if worst is None or worst > slo_p99_ms:
        return "misses", worst, f"p99 {worst} ms > SLO {slo_p99_ms:g} ms"
    return "meets", worst, ""


def pooled(records: list[dict[str, Any]], slo_p99_ms: float) -> tuple[int, int] | None:
    """(measured requests, those over the SLO or failed) over the records, or None when any record
    lacks its count against this SLO."""
    slos = [(r.get("summary") or {}).get("slo") or {} for r in records]
    if not slos or any(s.get("slo_p99_ms") != slo_p99_ms or s.get("requests") is None for s in slos):
        return None
    return sum(int(s["requests"]) for s in slos), sum(int(s["over"]) for s in slos)


def round_rate(rate: float) -> float:
    """Whole requests per second above 10 req/s (folder names stay readable), tenths below."""
    return float(round(rate)) if rate >= 10 else round(rate, 1)
