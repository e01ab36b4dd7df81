"""One cell measured: samplers started on the server and client hosts, the engine run (warm-up then
the measured phase), samplers stopped, rows and telemetry stored, and the cell's verdict.

Ctrl-C keeps what was measured and says `partial`; a server that went away fails the cell naming
its host (protocol.server_failure), and errors without a refused connection are told apart from a
gone server by one prediction after the cell; an overloaded cell's server is judged by the wait
that follows it (kit/bench/pair.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from kit import deploy, frameworks, scenarios
from kit.bench import outputs, protocol, slo
from kit.config import BenchSettings
from kit.context import Context
from kit.errors import DiskFullError, KitError
from kit.load import drive, engine_rows, vegeta
from kit.load.plan import Plan, Target
from kit.results import aggregate, store
from kit.results.cells import CellKey
from kit.telemetry import frames, remote_sampler


def plan_for(ctx: Context, key: CellKey, settings: BenchSettings) -> Plan:
    """The engine's whole contract for the cell: target, phases, arrivals, timeouts."""
    server = ctx.hosts.server(key.framework)
    path, body, content_type = scenarios.get(key.scenario).payload(key.framework, key.payload, ctx.cfg.seed)
    url = f"http://{server.private_ip}:{frameworks.get(key.framework).port}{path}"
    return Plan(
        targets=[Target("POST", url, {"Content-Type": content_type}, body)],
        phases=protocol.phases(settings, key.rate),
        arrival=settings.arrival,
        seed=ctx.cfg.seed + key.rep,
        timeout_s=settings.timeout_s,
        keepalive=settings.keepalive,
        processes=settings.processes,
        realtime=settings.realtime,
        sample_every=settings.sample_every if settings.engine == "kit" else 0,
    )


def measure(
    ctx: Context, run_dir: Path, run_id: str, key: CellKey, settings: BenchSettings
) -> dict[str, Any]:
    """The cell's manifest record: its key, status, reason and summary."""
    hosts, ssh = ctx.hosts, ctx.ssh
    server = hosts.server(key.framework)
    plan = plan_for(ctx, key, settings)
    raw_path = key.raw_path(run_dir)
    cid = key.id(run_id)
    samplings: list[remote_sampler.Sampling] = []
    warnings: list[str] = []
    if settings.telemetry:
        interval, longest = settings.telemetry_interval_s, plan.seconds() + plan.drain_s + 600
        samplings, warnings = remote_sampler.start_cell(
            ssh, server, hosts.client, key.framework, cid, interval, longest
        )
    interrupted, failure = False, ""
    run: drive.EngineRun | drive.VegetaRun | None = None
    try:
        if settings.engine == "vegeta":
            run = drive.run_vegeta_cell(ssh, hosts.client, plan, cid, raw_path.parent)
        else:
            run = drive.run_cell(ssh, hosts.client, plan, cid, raw_path.parent)
    except KeyboardInterrupt:
        interrupted = True
    except DiskFullError:
        raise
    except KitError as exc:
        failure = exc.what
    finally:
        fetched, more = remote_sampler.stop_cell(ssh, samplings, raw_path.parent / cid)
        warnings += more
    interrupted = interrupted or bool(run and run.interrupted)
    record: dict[str, Any] = key.as_dict()
    rows = cell_rows(settings.engine, raw_path.parent, cid, plan, {"run_id": run_id, **record})
    if rows is None:
        why = "interrupted before any row was written" if interrupted else "the engine wrote no rows"
        status = "partial" if interrupted else "failed"
        return {**record, "status": status, "reason": failure or why, "summary": {"warnings": warnings}}
    store.write_raw(rows, raw_path)
    summary_rows = aggregate.summarize(rows.lazy())
    summary: dict[str, Any] = summary_rows.to_dicts()[0] if summary_rows.height else {}
    engine = run.summary if isinstance(run, drive.EngineRun) else None
    summary["engine"] = engine or {"engine": settings.engine}
    if settings.engine == "vegeta":
        summary["engine"]["timing"] = vegeta.TIMING_NOTE
    if fetched:
        where = key.telemetry_path(run_dir)
        summary["telemetry"] = store_telemetry(fetched, where, key.framework, plan, engine, rows, warnings)
    summary["warnings"] = warnings
    accounts(ctx, key, settings, run, rows, summary)
    if interrupted:
        reason = "interrupted (Ctrl-C): rows so far kept"
        return {**record, "status": "partial", "reason": reason, "summary": summary}
    if failure:
        return {**record, "status": "failed", "reason": failure, "summary": summary}
    status, reason = verdict(ctx, key, rows, summary, engine, f"{server.name} ({server.private_ip})")
    return {**record, "status": status, "reason": reason, "summary": summary}


def accounts(
    ctx: Context,
    key: CellKey,
    settings: BenchSettings,
    run: drive.EngineRun | drive.VegetaRun | None,
    rows: pl.DataFrame,
    summary: dict[str, Any],
) -> None:
    """What a sweep judges beside the latency: the sampled replies against the model's outputs
    (kit/bench/outputs.py) and the requests over the scenario's SLO (kit/bench/slo.py)."""
    if isinstance(run, drive.EngineRun) and run.samples_path is not None:
        built = deploy.build(ctx, key.scenario)
        seed, every = ctx.cfg.seed, settings.sample_every
        account = outputs.check(
            key.scenario, key.framework, built, seed, key.payload, run.samples_path, every
        )
        summary["outputs"] = account
        summary["warnings"] += [outputs.warning(account)] if account["mismatched"] else []
    slo_ms = settings.slo_for(key.scenario)
    if slo_ms is not None:
        summary["slo"] = slo.slo_record(rows, slo_ms)


def verdict(
    ctx: Context,
    key: CellKey,
    rows: pl.DataFrame,
    summary: dict[str, Any],
    engine: dict[str, Any] | None,
    where: str,
) -> tuple[str, str]:
    """(status, reason) of a cell that ran to its end: the protocol's verdict, unless the server
    went away during it."""
    status, reason = protocol.verdict(summary, engine, rows)
    lost = protocol.server_failure(rows, where)
    if lost:
        return "failed", lost
    if status == "failed":
        return status, first_error(rows)
    if summary.get("errors") and status != "overloaded":
        # A few errors without a refused connection (timeouts: a host that vanished looks like that
        # at first): one prediction after the cell tells a slow server from a gone one. Not after an
        # overloaded cell: a server working off its queue misses it too; the wait that follows
        # (pair.measure_one) tells a backlog from a hang.
        gone = deploy.not_serving(ctx, key.framework, key.scenario)
        if gone:
            why = f"{where} stopped answering: after the cell, {gone}; {first_error(rows)}; {protocol.LOOK}"
            return "failed", why
    return status, reason


def cell_rows(
    engine: str, folder: Path, cell_id: str, plan: Plan, names: dict[str, Any]
) -> pl.DataFrame | None:
    """The cell's rows from what its engine left beside the raw rows, or None when it left nothing."""
    if engine == "vegeta":
        records = folder / f"{cell_id}.vegeta.jsonl"
        if not records.exists():
            return None
        return vegeta.rows_from_records(vegeta.read_records(records), [p.name for p in plan.phases], **names)
    csv_path = folder / f"{cell_id}.engine.csv"
    return engine_rows.rows_from_engine_csv(csv_path, **names) if csv_path.exists() else None


def store_telemetry(
    fetched: list[remote_sampler.Fetched],
    path: Path,
    framework: str,
    plan: Plan,
    engine: dict[str, Any] | None,
    rows: pl.DataFrame,
    warnings: list[str],
) -> dict[str, Any]:
    """The cell's samples labelled by phase and stored; their summary returned, warnings appended.

    The kit's engine says when its schedule started (t0), so its phase windows are exact; vegeta's
    come from its rows."""
    if engine:
        phases = [(p.name, p.duration_s) for p in plan.phases]
        windows = frames.windows_from_plan(engine.get("t0_ns"), phases)
    else:
        windows = frames.windows_from_rows(rows)
    frame, more = frames.cell_frame(fetched, framework, windows)
    warnings += more
    frames.write(frame, path)
    summary = frames.summarize(frame)
    warning = protocol.client_cpu_warning(summary.get("client", {}).get("cpu_mean_pct"))
    warnings += [warning] if warning else []
    return summary


def first_error(rows: pl.DataFrame) -> str:
    measured = rows.filter(pl.col("phase") == "measure")
    bad = measured.filter((pl.col("code") < 200) | (pl.col("code") >= 300))
    if bad.height == 0:
        return "no measured requests"
    row = bad.row(0, named=True)
    detail = f"code {row['code']} {row['error'] or ''}".strip()
    return f"{bad.height}/{measured.height} requests failed; first: {detail}"
