"""The SLO sweep run on real cells: per payload, the highest rate whose p99 meets the SLO
(slo.Sweep decides the rates), recorded in the manifest under `sweeps` after every probe, also when
Ctrl-C or a lost server cuts it short.

A probe whose tail is unproven (too few requests to show p99 <= SLO) is extended by repetitions
pooled with it, up to `sweep_extend_reps`. A sweep is deterministic given its cells' outcomes, so a
resumed run replays the probes it holds (`step` returns a final cell's record without measuring it
again) and goes on from the first it lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kit.bench import slo
from kit.bench.recovery import ServerGone
from kit.bench.run import Run
from kit.config import BenchSettings
from kit.results.cells import CellKey

Step = Callable[[CellKey], dict[str, Any]]


def run_sweep(settings: BenchSettings, run: Run, pair: tuple[str, str], step: Step) -> None:
    for payload in settings.payloads:
        sweep_payload(settings, run, pair, payload, step)


def sweep_payload(
    settings: BenchSettings, run: Run, pair: tuple[str, str], payload: str, step: Step
) -> slo.Sweep:
    """One payload's sweep against the scenario's SLO; its report is saved whatever ends it."""
    framework, scenario = pair
    slo_ms = settings.slo_for(scenario)
    assert slo_ms is not None, "settings.resolve refuses a sweep without an SLO"
    sweep = slo.Sweep(
        slo_ms,
        start=settings.rates[0],
        max_rate=settings.sweep_max_rate,
        max_probes=settings.sweep_max_probes,
        precision=settings.sweep_precision,
        min_rate=slo.lowest_judgeable_rate(settings),
    )
    try:
        while (rate := sweep.next_rate()) is not None:
            records = probe(settings, step, CellKey(framework, scenario, payload, rate, 0), slo_ms)
            outcome, worst, why = slo.judge(records, slo_ms)
            counts = slo.pooled(records, slo_ms)
            sweep.record(rate, worst, outcome, why, counts[:2] if counts else None)
    except KeyboardInterrupt:
        sweep.stopped = sweep.stopped or "interrupted (Ctrl-C)"
        raise
    except ServerGone as gone:
        sweep.stopped = sweep.stopped or gone.what
        raise
    finally:
        run.record_sweep(f"{framework}/{scenario}/{payload}", sweep.report())
    return sweep


def probe(settings: BenchSettings, step: Step, first: CellKey, slo_ms: float) -> list[dict[str, Any]]:
    """A probe's repetitions at one rate, then, while its tail is unproven, up to
    `sweep_extend_reps` more (numbered from slo.EXTEND_REP), every one pooled."""
    records = [step(replace(first, rep=k)) for k in range(settings.repetitions)]
    for k in range(settings.sweep_extend_reps):
        if slo.assess(records, slo_ms)[0] != slo.UNPROVEN:
            break
        records.append(step(replace(first, rep=slo.EXTEND_REP + k)))
    return records
