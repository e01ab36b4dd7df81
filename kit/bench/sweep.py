"""The SLO sweep run on real cells: per payload, the highest rate whose p99 meets the SLO
(protocol.Sweep decides the rates), recorded in the manifest under `sweeps` after every probe, also
when Ctrl-C or a lost server cuts it short."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kit.bench import protocol
from kit.bench.recovery import ServerGone
from kit.bench.run import Run
from kit.config import BenchSettings
from kit.results.cells import CellKey

Step = Callable[[CellKey], dict[str, Any]]


def run_sweep(settings: BenchSettings, run: Run, pair: tuple[str, str], step: Step) -> None:
    assert settings.slo_p99_ms is not None
    framework, scenario = pair
    for payload in settings.payloads:
        sweep = protocol.Sweep(
            settings.slo_p99_ms,
            start=settings.rates[0],
            max_rate=settings.sweep_max_rate,
            max_probes=settings.sweep_max_probes,
            precision=settings.sweep_precision,
        )
        try:
            while (rate := sweep.next_rate()) is not None:
                keys = [CellKey(framework, scenario, payload, rate, k) for k in range(settings.repetitions)]
                outcome, worst, why = protocol.judge([step(key) for key in keys], settings.slo_p99_ms)
                sweep.record(rate, worst, outcome, why)
        except KeyboardInterrupt:
            sweep.stopped = sweep.stopped or "interrupted (Ctrl-C)"
            raise
        except ServerGone as gone:
            sweep.stopped = sweep.stopped or gone.what
            raise
        finally:
            run.record_sweep(f"{framework}/{scenario}/{payload}", sweep.report())
