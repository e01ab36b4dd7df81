"""The bench protocol: what runs for each cell, in which order, and when a cell's numbers count.

For every (framework, scenario) pair: each payload size x each rate x each repetition is a cell;
a cell is a warm-up (rows kept, flagged `warmup`) then the measured phase, back to back on one
connection pool, then a cooldown before the next cell. Rates are a list, or found by a sweep
(its rules, and the measured phase's length when an SLO is judged: kit/bench/slo.py).

Validity is decided per cell from the stored rows by kit.results.validity (the send lag against the
latency it could have moved, the rate against the schedule's own); the engine's own account, which
also knows the requests it scheduled but never sent, can only add reasons to that. A cell whose
measured requests failed beyond the same 1 % is `overloaded`: kept, never counted.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import ValidationError

from kit.bench import slo
from kit.config import BenchSettings
from kit.errors import UsageError
from kit.load.plan import Phase, check_schedule
from kit.results import validity
from kit.results.cells import CellKey

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
    measured = [Phase("measure", rate, slo.measured_seconds(settings, rate))]
    return [Phase("warmup", rate, settings.warmup_s), *measured] if settings.warmup_s > 0 else measured


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
    validity.MAX_ERROR_RATE of the measured requests failed; else `ok`. Invalid comes first: a client
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
