"""One framework x scenario pair of a run: its model built and deployed (or the reason it cannot
be), then its cells measured one after another (or by the SLO sweep), each recorded as it ends.

A framework that cannot run here, or whose deploy fails, does not stop the others: its cells are
recorded (skipped or failed, with the reason) and the run goes on. A server that stops serving
ends its pair: the cells not yet run say why, and its service is restarted for the next pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from kit import deploy
from kit.bench import cell, protocol, recovery
from kit.bench.run import Run, stage_name
from kit.bench.sweep import Step, run_sweep
from kit.config import BenchSettings
from kit.context import Context, Progress
from kit.errors import DiskFullError, KitError
from kit.results.cells import CellKey


class Work(Protocol):
    """What a pair measures once its model is served: cells known ahead, a sweep, a study's pair."""

    #: Appended to the pair's deploy stage name in the manifest's timings ("" for the pair's first).
    stage: str

    def nothing_left(self, run: Run) -> bool:
        """True when an earlier part of the run measured all of it: the pair is not even deployed."""

    def measure(self, step: Step) -> None:
        """Measure through `step` (which returns a final cell's record without measuring it again)."""

    def unrun(self, run: Run, status: str, reason: str) -> None:
        """Record what was not measured (skipped framework, failed deploy, server gone) and why."""


@dataclass
class Cells:
    """The pair's cells, known ahead: every payload x rate x repetition."""

    keys: list[CellKey]
    stage: str = ""

    def nothing_left(self, run: Run) -> bool:
        return not self.todo(run)

    def todo(self, run: Run) -> list[CellKey]:
        done = run.done()
        return [c for c in self.keys if c not in done]

    def measure(self, step: Step) -> None:
        for key in self.keys:
            step(key)

    def unrun(self, run: Run, status: str, reason: str) -> None:
        run.record_unrun(self.todo(run), status, reason)


@dataclass
class Sweeps:
    """The SLO sweep of each payload; its rates are found as it goes, its report says why it stopped."""

    settings: BenchSettings
    run: Run
    pair: tuple[str, str]
    stage: str = ""

    def nothing_left(self, run: Run) -> bool:
        return False  # a resumed sweep replays its probes to know where it stood

    def measure(self, step: Step) -> None:
        run_sweep(self.settings, self.run, self.pair, step)

    def unrun(self, run: Run, status: str, reason: str) -> None:
        for payload in self.settings.payloads:
            name = "/".join((*self.pair, payload))
            report = run.sweeps().get(name) or {"probes": [], "best_rate": None}
            run.record_sweep(name, {**report, "stopped_because": report.get("stopped_because") or reason})


def measure_pair(
    ctx: Context,
    run: Run,
    pair: tuple[str, str],
    settings: BenchSettings,
    part: int,
    progress: Progress,
    work: Work | None = None,
) -> None:
    framework, scenario = pair
    if work is None:
        work = (
            Sweeps(settings, run, pair)
            if settings.sweep
            else Cells(protocol.cells(settings, framework, scenario))
        )
    if work.nothing_left(run):
        return  # measured in an earlier part
    start = time.monotonic()
    built = deploy.build(ctx, scenario)
    run.same_model(scenario, built)
    reason = deploy.unavailable(ctx, framework)
    if reason is not None:
        work.unrun(run, "skipped", reason)
        return
    try:
        parity = deploy.ensure_deployed(ctx, framework, scenario, built, progress)
    except KitError as exc:
        work.unrun(run, "failed", exc.what)
        # The framework may be stuck half-way (a model loading, a worker spinning): the next pair's
        # deploy and cells need it clean.
        why = f"the deploy of {framework}/{scenario} failed: {exc.what}"
        recovery.restart_server(ctx, run, pair, why, settings, part, progress, serves_pair=False)
        return
    run.record_pair(
        ctx.cfg,
        framework,
        scenario,
        built,
        parity,
        stage_name(framework, scenario, part) + work.stage,
        time.monotonic() - start,
    )

    records: list[dict[str, Any]] = []
    done = run.done()

    def step(key: CellKey) -> dict[str, Any]:
        if key in done:  # a resumed sweep or study replays what an earlier part measured
            return run.record_of(key)
        records.append(measure_one(ctx, run, key, settings, part, progress))
        return records[-1]

    try:
        work.measure(step)
    except recovery.ServerGone as gone:
        # The run goes on with the next pair; what this pair did not measure says why.
        progress(gone.what)
        work.unrun(run, "failed", gone.what)
        recovery.restart_server(ctx, run, pair, gone.what, settings, part, progress)
        return
    why = recovery.troubled(records)
    if why:
        recovery.restart_server(ctx, run, pair, why, settings, part, progress)


def measure_one(
    ctx: Context, run: Run, key: CellKey, settings: BenchSettings, part: int, progress: Progress
) -> dict[str, Any]:
    """One cell measured and recorded; after a failed one, the server is waited for (ServerGone
    when it does not come back); Ctrl-C mid-cell ends the run with the cell `partial`."""
    progress(f"bench {key}")
    moved = run.supersede_partial(key, part)
    try:
        record = cell.measure(ctx, run.dir, run.id, key, settings)
    except DiskFullError as full:
        # Every later cell would fail the same way: stop the run, saying which cell it cut.
        run.cut_by_full_disk(key, full.what)
        raise
    record["part"] = part
    if moved:
        record["superseded"] = moved
    # An overloaded cell's outcome is final once its server has been waited for: shown then.
    announced = record["status"] != "overloaded"
    run.record(record, announce=announced)
    if record["status"] == "partial":
        raise KeyboardInterrupt  # its rows are kept and the manifest says partial
    if record["status"] in ("failed", "overloaded"):
        # A server that lost requests may still be working off its backlog, or gone: the next cell
        # waits until it serves a correct prediction again.
        try:
            recovery.await_server(ctx, key.framework, key.scenario, settings.recover_s, progress)
        except recovery.ServerGone as gone:
            if not announced:  # a server that never came back was hung or gone, not busy
                record = {**record, "status": "failed", "reason": recovery.gone_after_overload(record, gone)}
                run.record(record)
                announced = True
            raise
        finally:
            if not announced:
                run.announce(record)
    time.sleep(settings.cooldown_s)
    return record
