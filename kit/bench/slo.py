"""The SLO rules, pure: how long a measured phase must be to judge a p99, how a cell's requests are
counted against an SLO, a sweep probe's verdict from its repetitions, and the sweep's bisection.

The sweep looks for the highest rate whose p99 meets an SLO: it doubles the rate from the first
one while the SLO holds (halves it while it does not, no lower than the lowest rate a phase can
judge), then bisects between the highest rate that met it and the lowest that missed it, until they
are within `precision` of each other. Two caps bound it: a highest rate and a number of probes. A
probe meets the SLO when at most 1 % of its requests failed (an `overloaded` repetition misses it)
and its requests show p99 <= SLO by kit.results.tail's early-stopping rule (few requests over the
SLO among enough of them: a p99 from too few is not called met). A repetition whose client was the
bottleneck is judged only where its lag cannot change the verdict (`judge`); a probe that cannot be
judged (the client limited it, or Ctrl-C) ends the sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kit.config import BenchSettings
from kit.results import tail, validity

#: The share of failed requests a sweep probe that meets its SLO may have (as a counted cell).
MAX_SWEEP_ERROR_RATE = validity.MAX_ERROR_RATE


def least_requests(settings: BenchSettings) -> int:
    """The requests a measured phase must hold: `min_requests`, and under a sweep at least the tail
    rule's least count (a p99 verdict from fewer could only ever be `unproven`)."""
    least = tail.least_count() + 1 if settings.sweep else 0
    return max(settings.min_requests, least)


def measured_seconds(settings: BenchSettings, rate: float) -> float:
    """The measured phase's length: `duration_s`, stretched (up to `max_duration_s`) so that it holds
    `least_requests` at the rate. Poisson counts scatter by their square root: asking for m + 3 sqrt(m)
    leaves fewer than m in about one phase in a thousand."""
    m = least_requests(settings)
    if m <= 0:
        return settings.duration_s
    wanted = math.ceil((m + 3 * math.sqrt(m)) / rate)
    return max(settings.duration_s, min(settings.max_duration_s, float(wanted)))


def lowest_judgeable_rate(settings: BenchSettings) -> float:
    """The lowest rate a sweep halves to: 1 req/s, or where `max_duration_s` no longer holds
    `least_requests` (below it no probe could show an SLO met, and each would last the longest)."""
    m = least_requests(settings)
    return max(1.0, (m + 3 * math.sqrt(m)) / settings.max_duration_s) if m > 0 else 1.0


def slo_counts(rows: pl.DataFrame, slo_ms: float, since: str = "intended_ns") -> tuple[int, int]:
    """(measured requests, those over the SLO or failed): what a tail verdict rests on (tail.py).
    Latency is from the scheduled send (`intended_ns`), as every latency the kit reports; from the
    actual send (`sent_ns`) it leaves out the client's own lag, which only a lagging client needs."""
    measured = rows.filter(pl.col("phase") == "measure")
    ok = pl.col("code").is_between(200, 299).fill_null(False)
    late = ((pl.col("done_ns") - pl.col(since)) > int(slo_ms * 1e6)).fill_null(True)
    over = measured.filter(~ok | late).height
    return measured.height, over


def slo_record(rows: pl.DataFrame, slo_ms: float) -> dict[str, Any]:
    """The cell's SLO account for its manifest entry: counts, the tail verdict and why, and the
    requests over it timed from their actual send (`over_from_sent`: judge's lower bound)."""
    n, over = slo_counts(rows, slo_ms)
    verdict = tail.verdict(n, over)
    return {
        "slo_p99_ms": slo_ms,
        "requests": n,
        "over": over,
        "over_from_sent": slo_counts(rows, slo_ms, "sent_ns")[1],
        "verdict": verdict,
        "why": "" if verdict == tail.MEETS else tail.why(n, over, slo_ms),
    }


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


#: How repetitions at one rate are numbered, so that no two kinds ever share a cell: a probe's from 0,
#: the study's confirmations after them (below COMMON_REP), its common pass from COMMON_REP
#: (kit/bench/study.py), and those that extend an unproven probe from EXTEND_REP.
COMMON_REP = 10
EXTEND_REP = 20


def judge(records: list[dict[str, Any]], slo_p99_ms: float) -> tuple[str, float | None, str]:
    """One probe's outcome from its repetitions' cell records: (meets | misses | unjudged, worst p99,
    why); an unproven tail (assess) is a miss, its reason saying so."""
    outcome, worst, why = assess(records, slo_p99_ms)
    return ("misses" if outcome == UNPROVEN else outcome), worst, why


UNPROVEN = tail.UNPROVEN


def assess(records: list[dict[str, Any]], slo_p99_ms: float) -> tuple[str, float | None, str]:
    """(meets | misses | unproven | unjudged, worst p99, why) of a probe's repetitions.

    The tail is judged on the repetitions' requests pooled (tail.verdict: early stopping, so that a
    p99 that looks within the SLO from too few requests is not called met). `unproven`: too few
    requests to tell yet, and more repetitions could (kit/bench/sweep.py adds them). A repetition
    whose client was the bottleneck (`invalid`) is judged only where its lag cannot change the
    verdict: missed even timed from the actual sends (the lag left out), or met, or not yet shown,
    timed from the schedule (the lag counted) by a client that still offered the whole load; else
    the probe is `unjudged`. A record from before cells counted their requests over the SLO is judged
    by its measured p99."""
    p99s = [r.get("summary", {}).get("p99_ms") for r in records]
    worst = max((p for p in p99s if p is not None), default=None)
    partial = next((r for r in records if r["status"] == "partial"), None)
    if partial is not None:
        return "unjudged", worst, f"rep {partial['rep']} is partial: {partial['reason']}"
    wrong = next(
        (r for r in records if ((r.get("summary") or {}).get("outputs") or {}).get("mismatched")), None
    )
    if wrong is not None:  # fast but wrong does not meet an SLO
        out = wrong["summary"]["outputs"]
        why = f"{out['mismatched']} of {out['compared']} sampled replies differ from the model's outputs"
        return "misses", worst, f"rep {wrong['rep']}: {why} (first: {out['first_mismatch']})"
    invalid = [r for r in records if r["status"] == "invalid"]
    counts = pooled(records, slo_p99_ms)
    if invalid and counts is not None:
        return _despite_client(records, invalid, counts, worst, slo_p99_ms)
    if invalid:
        return "unjudged", worst, f"rep {invalid[0]['rep']} is invalid: {invalid[0]['reason']}"
    for r in records:
        s = r.get("summary") or {}
        if r["status"] == "failed":
            return "misses", worst, f"rep {r['rep']} failed: {r['reason']}"
        if r["status"] == "overloaded":  # the server, not the client: the SLO was missed, not unjudged
            return "misses", worst, f"rep {r['rep']} overloaded: {r['reason']}"
        if (s.get("error_rate") or 0.0) > MAX_SWEEP_ERROR_RATE:
            return "misses", worst, f"rep {r['rep']}: {s['error_rate']:.1%} of requests failed"
    if counts is not None:
        n, over, _ = counts
        verdict = tail.verdict(n, over)
        return verdict, worst, "" if verdict == tail.MEETS else tail.why(n, over, slo_p99_ms)
    if worst is None or worst > slo_p99_ms:
        return "misses", worst, f"p99 {worst} ms > SLO {slo_p99_ms:g} ms"
    return "meets", worst, ""


def _despite_client(
    records: list[dict[str, Any]],
    invalid: list[dict[str, Any]],
    counts: tuple[int, int, int],
    worst: float | None,
    slo: float,
) -> tuple[str, float | None, str]:
    n, over, over_from_sent = counts
    first = f"rep {invalid[0]['rep']} is invalid: {invalid[0]['reason']}"
    if tail.verdict(n, over_from_sent) == tail.MISSES:
        why = tail.why(n, over_from_sent, slo)
        return "misses", worst, f"{why}, timed from the actual sends (the client's lag left out; {first})"
    failed = next((r for r in records if r["status"] in ("failed", "overloaded")), None)
    if failed is not None:
        return "misses", worst, f"rep {failed['rep']} {failed['status']}: {failed['reason']}"
    if any(not kept_pace(r) for r in invalid):
        return "unjudged", worst, first
    verdict = tail.verdict(n, over)
    if verdict == tail.MEETS:
        return "meets", worst, f"met with the client's lag counted in the latency ({first})"
    if verdict == tail.UNPROVEN:
        return UNPROVEN, worst, f"{tail.why(n, over, slo)}, the client's lag counted in ({first})"
    return "unjudged", worst, first


def kept_pace(record: dict[str, Any]) -> bool:
    """The cell's client sent its whole schedule at its rate (it may have lagged, not fallen short)."""
    s = record.get("summary") or {}
    measured = ((s.get("engine") or {}).get("per_phase") or {}).get("measure") or {}
    return s.get("rate_short") is False and not int(measured.get("not_sent") or 0)


def pooled(records: list[dict[str, Any]], slo_p99_ms: float) -> tuple[int, int, int] | None:
    """(measured requests, those over the SLO or failed, those over it timed from the actual send)
    over the records, or None when any record lacks its count against this SLO."""
    slos = [(r.get("summary") or {}).get("slo") or {} for r in records]
    if not slos or any(s.get("slo_p99_ms") != slo_p99_ms or s.get("requests") is None for s in slos):
        return None
    return (
        sum(int(s["requests"]) for s in slos),
        sum(int(s["over"]) for s in slos),
        sum(int(s.get("over_from_sent", s["over"])) for s in slos),
    )


def round_rate(rate: float) -> float:
    """Whole requests per second above 10 req/s (folder names stay readable), tenths below."""
    return float(round(rate)) if rate >= 10 else round(rate, 1)
