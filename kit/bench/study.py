"""The study (the `study` profile, what `kit bench all` does by default): per scenario, each
framework's capacity at the scenario's p99 SLO, then every framework at one rate they all sustain.

Scenario by scenario, so that every framework host still serves the scenario when its common pass
comes (no deploy between them), each framework's cold starts and footprint last
(kit/bench/footprint.py), so that no measured cell follows a cold start:

1. per framework, per payload: the SLO sweep (kit/bench/sweep.py), then `confirm_reps` repetitions
   at the rate it found: none may miss on its own (an unproven one passes: one repetition's requests
   may be too few to show the tail alone), and every request measured at that rate, the probe's
   with them, must show it met. Then the capacity is that rate, in the bracket [rate, lowest rate
   that missed). Otherwise it is unconfirmed and falls to the highest rate below it that met, the
   bracket [that rate, the rate that failed).
   No rate met: "no capacity at this SLO", with the lowest rate tried;
2. the common pass: `common_fraction` of the lowest capacity among the scenario's frameworks
   (rounded down), `common_reps` repetitions for each framework with a capacity. Its repetitions are
   numbered from COMMON_REP so that they never share a cell with a probe or a confirmation.

Everything is recorded in the manifest under `study` as it is decided (docs/design.md section 4).
The cells' outcomes decide every rate, so a resumed study replays what it holds and measures only
what it lacks: a pair whose capacity was decided is not even deployed again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from kit.bench import footprint, slo
from kit.bench.pair import Cells, measure_pair
from kit.bench.recovery import ServerGone
from kit.bench.run import Run
from kit.bench.sweep import Step, sweep_payload
from kit.config import BenchSettings
from kit.context import Context, Progress
from kit.results.cells import CellKey

COMMON_REP = slo.COMMON_REP
#: Capacity outcomes that a resumed study keeps (as a resume keeps a skipped or failed cell); a
#: `cut` one (Ctrl-C, a server gone) is replayed and measured on.
DECIDED = ("found", "unconfirmed", "none", "skipped", "failed")


def measure_study(
    ctx: Context,
    run: Run,
    pairs: list[tuple[str, str]],
    settings: BenchSettings,
    part: int,
    progress: Progress,
) -> None:
    for scenario, frameworks in by_scenario(pairs):
        for framework in frameworks:
            pair = (framework, scenario)
            measure_pair(ctx, run, pair, settings, part, progress, StudyPair(settings, run, pair))
        for payload in settings.payloads:
            common = plan_common(settings, run, scenario, payload, frameworks)
            run.record_study("common", f"{scenario}/{payload}", common)
        for framework in frameworks:
            keys = common_keys(run, framework, scenario, settings.payloads)
            if keys:
                progress(f"common rate: {framework}/{scenario}")
                measure_pair(
                    ctx, run, (framework, scenario), settings, part, progress, Cells(keys, ":common")
                )
        # Last, so that no measured cell follows a cold start (a restarted server is cold).
        for framework in frameworks:
            pair = (framework, scenario)
            foot = footprint.Footprint(ctx, run, pair, settings, progress)
            measure_pair(ctx, run, pair, settings, part, progress, foot)


def finished(run: Run, pairs: list[tuple[str, str]], settings: BenchSettings) -> bool:
    """True when every pair's capacity is decided and every common cell measured: a resume has
    nothing to do (checked from the manifest alone, before any host is touched)."""
    done = run.done()
    for scenario, frameworks in by_scenario(pairs):
        if not all(StudyPair(settings, run, (fw, scenario)).nothing_left(run) for fw in frameworks):
            return False
        if any(f"{scenario}/{p}" not in (run.study().get("common") or {}) for p in settings.payloads):
            return False
        if any(k not in done for fw in frameworks for k in common_keys(run, fw, scenario, settings.payloads)):
            return False
        if not all(footprint.Footprint.done(run, (fw, scenario), settings) for fw in frameworks):
            return False
    return True


def by_scenario(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The pairs grouped by scenario, scenarios and frameworks in the order first named."""
    groups: dict[str, list[str]] = {}
    for framework, scenario in pairs:
        groups.setdefault(scenario, [])
        if framework not in groups[scenario]:
            groups[scenario].append(framework)
    return list(groups.items())


@dataclass
class StudyPair:
    """One framework x scenario of the study: per payload its sweep and the confirmations."""

    settings: BenchSettings
    run: Run
    pair: tuple[str, str]
    stage: str = ""

    def name(self, payload: str) -> str:
        return "/".join((*self.pair, payload))

    def nothing_left(self, run: Run) -> bool:
        pairs = run.study().get("pairs") or {}
        return all(
            ((pairs.get(self.name(p)) or {}).get("capacity") or {}).get("outcome") in DECIDED
            for p in self.settings.payloads
        )

    def measure(self, step: Step) -> None:
        for payload in self.settings.payloads:
            self.payload(payload, step)

    def payload(self, payload: str, step: Step) -> None:
        slo_ms = self.settings.slo_for(self.pair[1])
        assert slo_ms is not None, "settings.resolve refuses a study pair without an SLO"
        name, confirms = self.name(payload), Confirmations()
        sweep: slo.Sweep | None = None
        try:
            sweep = sweep_payload(self.settings, self.run, self.pair, payload, step)
            if sweep.best is not None:
                self.confirm(CellKey(*self.pair, payload, sweep.best, 0), step, slo_ms, confirms)
        except (KeyboardInterrupt, ServerGone) as cut:
            why = "interrupted (Ctrl-C)" if isinstance(cut, KeyboardInterrupt) else cut.what
            self.run.record_study("pairs", name, entry(slo_ms, sweep, confirms, cut=why))
            raise
        self.run.record_study("pairs", name, entry(slo_ms, sweep, confirms))

    def confirm(self, best: CellKey, step: Step, slo_ms: float, confirms: Confirmations) -> None:
        """`confirm_reps` repetitions at the sweep's best rate: each must not miss on its own (an
        unproven one passes: too few requests to show the tail alone), and all the requests measured
        at that rate, the probe's with them, must show it met."""
        first = self.settings.repetitions
        records = []
        for rep in range(first, first + self.settings.confirm_reps):
            records.append(step(replace(best, rep=rep)))
            outcome, _, why = slo.assess(records[-1:], slo_ms)
            confirms.add(rep, outcome, why)
            if outcome in ("misses", "unjudged"):
                return
        done = self.run.done()
        at_rate = [replace(best, rep=k) for k in range(first)]
        at_rate += [replace(best, rep=slo.EXTEND_REP + k) for k in range(self.settings.sweep_extend_reps)]
        records += [self.run.record_of(k) for k in at_rate if k in done]
        outcome, _, why = slo.judge(records, slo_ms)
        confirms.pooled = (outcome, why)

    def unrun(self, run: Run, status: str, reason: str) -> None:
        """Payloads not reached say why; one cut mid-sweep keeps what its sweep recorded."""
        pairs = run.study().get("pairs") or {}
        for payload in self.settings.payloads:
            name = self.name(payload)
            if name not in pairs or status == "skipped":
                run.record_study(
                    "pairs", name, unmeasured(self.settings.slo_for(self.pair[1]), status, reason)
                )


@dataclass
class Confirmations:
    """The repetitions at the sweep's best rate, each judged alone: met, missed or unjudged."""

    reps: list[int] | None = None
    outcomes: list[str] | None = None
    whys: list[str] | None = None
    #: The verdict on every request at the rate, the probe's and the confirmations' pooled.
    pooled: tuple[str, str] | None = None

    def add(self, rep: int, outcome: str, why: str) -> None:
        self.reps = [*(self.reps or []), rep]
        self.outcomes = [*(self.outcomes or []), outcome]
        self.whys = [*(self.whys or []), why]

    def failed(self) -> str | None:
        """Why the rate is not confirmed (a repetition missed or could not be judged, or the pooled
        requests do not show the tail met), or None."""
        for rep, outcome, why in zip(self.reps or [], self.outcomes or [], self.whys or [], strict=True):
            if outcome in ("misses", "unjudged"):
                return f"confirmation rep {rep} {outcome}: {why}"
        if self.pooled is not None and self.pooled[0] != "meets":
            return f"every request at the rate pooled misses: {self.pooled[1]}"
        return None


def entry(slo_ms: float, sweep: slo.Sweep | None, confirms: Confirmations, cut: str = "") -> dict[str, Any]:
    """The manifest's study record of one pair and payload: its capacity decided from the sweep and
    the confirmations (module docstring), or why it was not (`cut`: Ctrl-C or a server gone)."""
    probes = sweep.probes if sweep else []
    best = sweep.best if sweep else None
    record = unmeasured(slo_ms, "cut", f"the sweep was cut: {cut}")
    record["lowest_rate_tried"] = min((p.rate for p in probes), default=None)
    record["confirm"] = {"rate": best, "reps": confirms.reps or [], "outcomes": confirms.outcomes or []}
    if confirms.pooled is not None:
        record["confirm"]["pooled"] = confirms.pooled[0]
    if cut or sweep is None:
        return record
    unjudged = next((p for p in probes if p.outcome == "unjudged"), None)
    stop = f"{unjudged.rate:g} req/s could not be judged ({unjudged.why})" if unjudged else ""
    cap = record["capacity"]
    if best is None:
        lowest = record["lowest_rate_tried"]
        cap["outcome"], cap["why"] = ("cut", f"the sweep stopped: {stop}") if unjudged else ("none", "")
        if not unjudged:
            cap["why"] = f"no capacity at p99 <= {slo_ms:g} ms" + (
                f": lowest rate tried {lowest:g} req/s" if lowest else ""
            )
        return record
    failed = confirms.failed()
    if failed is None:
        high = None if unjudged else sweep.hi
        cap.update(rate=best, low=best, high=high, confirmed=True, outcome="found", why="")
        if high is None:  # the SLO held at every rate judged: the capacity is at least this
            cap["why"] = f"a lower bound: {stop or sweep.stopped}"
        return record
    below = max((p.rate for p in probes if p.outcome == "meets" and p.rate < best), default=None)
    cap.update(rate=below, low=below, high=best, confirmed=False, outcome="unconfirmed")
    cap["why"] = f"at {best:g} req/s: {failed}"
    return record


def unmeasured(slo_ms: float | None, outcome: str, why: str) -> dict[str, Any]:
    """A pair and payload whose capacity was not measured: `skipped` (the framework cannot run here),
    `failed` (its deploy failed) or `cut`."""
    capacity = {"rate": None, "low": None, "high": None, "confirmed": False, "outcome": outcome, "why": why}
    return {"slo_p99_ms": slo_ms, "lowest_rate_tried": None, "capacity": capacity, "confirm": {}}


def plan_common(
    settings: BenchSettings, run: Run, scenario: str, payload: str, frameworks: list[str]
) -> dict[str, Any]:
    """The scenario's common rate: `common_fraction` of the lowest capacity among its frameworks,
    rounded down; those without a capacity are left out with the reason."""
    pairs = run.study().get("pairs") or {}
    rates: dict[str, float] = {}
    excluded: dict[str, str] = {}
    for fw in frameworks:
        cap = (pairs.get(f"{fw}/{scenario}/{payload}") or {}).get("capacity") or {}
        if cap.get("rate") is not None:
            rates[fw] = float(cap["rate"])
        else:
            excluded[fw] = str(cap.get("why") or "no capacity recorded")
    fraction = settings.common_fraction
    base = {"fraction": fraction, "excluded": excluded, "reps": [], "frameworks": []}
    if not rates:
        return {
            **base,
            "rate": None,
            "lowest_capacity": None,
            "of": None,
            "why": "no framework has a capacity",
        }
    of = min(rates, key=lambda fw: (rates[fw], fw))
    rate = round_down(fraction * rates[of])
    if rate <= 0:
        why = f"{fraction:g} x {rates[of]:g} req/s rounds to no rate"
        return {**base, "rate": None, "lowest_capacity": rates[of], "of": of, "why": why}
    reps = list(range(COMMON_REP, COMMON_REP + settings.common_reps))
    return {
        **base,
        "rate": rate,
        "lowest_capacity": rates[of],
        "of": of,
        "frameworks": sorted(rates, key=frameworks.index),
        "reps": reps,
        "why": "",
    }


def common_keys(run: Run, framework: str, scenario: str, payloads: Iterable[str]) -> list[CellKey]:
    """The common pass's cells of one framework (none when it has no capacity)."""
    commons = run.study().get("common") or {}
    keys = []
    for payload in payloads:
        c = commons.get(f"{scenario}/{payload}") or {}
        if c.get("rate") is not None and framework in c.get("frameworks", []):
            keys += [CellKey(framework, scenario, payload, float(c["rate"]), r) for r in c["reps"]]
    return keys


def round_down(rate: float) -> float:
    """Like slo.round_rate (whole req/s from 10, tenths below), never above `rate`."""
    return float(math.floor(rate)) if rate >= 10 else math.floor(rate * 10) / 10
