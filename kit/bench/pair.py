"""One framework x scenario pair of a run: its model built and deployed (or the reason it cannot
be), then its cells measured one after another (or by the SLO sweep), each recorded as it ends.

A framework that cannot run here, or whose deploy fails, does not stop the others: its cells are
recorded (skipped or failed, with the reason) and the run goes on. A server that stops serving
ends its pair: the cells not yet run say why, and its service is restarted for the next pair.
"""

from __future__ import annotations

import time
from typing import Any

from kit import deploy
from kit.bench import cell, protocol, recovery
from kit.bench.run import Run, stage_name
from kit.bench.sweep import run_sweep
from kit.config import BenchSettings
from kit.context import Context, Progress
from kit.errors import DiskFullError, KitError
from kit.results.cells import CellKey


def measure_pair(
    ctx: Context,
    run: Run,
    pair: tuple[str, str],
    settings: BenchSettings,
    part: int,
    progress: Progress,
) -> None:
    framework, scenario = pair
    done = run.done()
    todo = [c for c in protocol.cells(settings, framework, scenario) if c not in done]
    if not todo and not settings.sweep:
        return  # every cell of the pair was measured in an earlier part
    start = time.monotonic()
    built = deploy.build(ctx, scenario)
    run.same_model(scenario, built)
    reason = deploy.unavailable(ctx, framework)
    if reason is not None:
        run.record_unrun(todo, "skipped", reason)
        return
    try:
        parity = deploy.ensure_deployed(ctx, framework, scenario, built, progress)
    except KitError as exc:
        run.record_unrun(todo, "failed", exc.what)
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
        stage_name(framework, scenario, part),
        time.monotonic() - start,
    )

    records: list[dict[str, Any]] = []

    def step(key: CellKey) -> dict[str, Any]:
        records.append(measure_one(ctx, run, key, settings, part, progress))
        return records[-1]

    try:
        if settings.sweep:
            run_sweep(settings, run, pair, step)
        else:
            for key in todo:
                step(key)
    except recovery.ServerGone as gone:
        # The run goes on with the next pair; this pair's cells not yet run say why they were not.
        progress(gone.what)
        if not settings.sweep:  # a sweep records why it stopped in its own report
            measured = run.done()
            run.record_unrun([c for c in todo if c not in measured], "failed", gone.what)
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
