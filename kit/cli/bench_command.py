"""`kit bench`: open-loop load from the client host, cell by cell."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from kit import config
from kit.bench import runner
from kit.bench.settings import Request
from kit.cli.base import State, cli, err, live, out


@cli.command()
@click.argument("framework")
@click.argument("scenario", required=False)
@click.option(
    "--profile",
    type=click.Choice(sorted(config.PROFILES)),
    default=None,
    help="Bench profile (default: the config's, study: capacity at each scenario's SLO).",
)
@click.option("--engine", type=click.Choice(["kit", "vegeta"]), default=None, help="Load engine (kit).")
@click.option(
    "--rate",
    "rates",
    type=click.FloatRange(min=0, min_open=True),
    multiple=True,
    help="Requests per second; repeat for several rates (with --sweep: the first rate tried).",
)
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Measured seconds per cell.")
@click.option("--reps", type=click.IntRange(min=1), default=None, help="Repetitions per cell.")
@click.option("--sweep", is_flag=True, default=None, help="Find the highest rate whose p99 meets the SLO.")
@click.option(
    "--slo-p99-ms",
    type=click.FloatRange(min=0, min_open=True),
    help="The sweep's p99 SLO in ms (the study's default is per scenario; this sets every scenario's).",
)
@click.option("--arrival", type=click.Choice(["constant", "poisson"]), default=None, help="Arrival process.")
@click.option(
    "--resume",
    "resume_run",
    metavar="RUN",
    default=None,
    help="Measure the cells RUN has no outcome for yet, with its own settings: kit bench all --resume RUN.",
)
@click.pass_obj
def bench(
    state: State,
    framework: str,
    scenario: str | None,
    profile: str | None,
    engine: str | None,
    rates: tuple[float, ...],
    duration: float | None,
    reps: int | None,
    sweep: bool | None,
    slo_p99_ms: float | None,
    arrival: str | None,
    resume_run: str | None,
) -> None:
    """Drive open-loop load at FRAMEWORK serving SCENARIO (or `all`) from the client host."""
    overrides = {
        "engine": engine,
        "rates": rates,
        "duration_s": duration,
        "repetitions": reps,
        "sweep": sweep or None,
        "slo_p99_ms": slo_p99_ms,
        "arrival": arrival,
    }
    request = Request(framework, scenario, profile, overrides, resume_run)
    table = Table(
        "framework",
        "scenario",
        "payload",
        "rate",
        "rep",
        "status",
        "p50 ms",
        "p99 ms",
        "achieved/s",
        "errors",
        title="bench cells",
    )

    def on_cell(cell: dict[str, Any]) -> None:
        s = cell.get("summary") or {}
        table.add_row(
            cell["framework"],
            cell["scenario"],
            cell["payload"],
            f"{cell['rate']:g}",
            str(cell["rep"]),
            cell["status"],
            _fmt(s.get("p50_ms")),
            _fmt(s.get("p99_ms")),
            _fmt(s.get("achieved_rate")),
            str(s.get("errors", "-")),
        )
        if cell["status"] != "ok":
            err.print(
                f"[yellow]{cell['framework']}/{cell['scenario']} {cell['payload']}: "
                f"{cell['status']}: {cell['reason']}[/]"
            )
        for warning in s.get("warnings") or []:
            err.print(f"[yellow]{cell['framework']}/{cell['scenario']} {cell['payload']}: {warning}[/]")

    with live("kit bench") as progress:
        outcome = runner.bench(state.context(), request, progress, on_cell)
    run_dir = outcome.run_dir
    done = f"Nothing left to measure in {run_dir.name}: every cell has an outcome."
    out.print(table if table.rows else done)
    study = outcome.study
    for name, result in outcome.sweeps.items():
        if name in (study.get("pairs") or {}):
            continue  # the study's capacity says it, confirmed
        best = "none" if result["best_rate"] is None else f"{result['best_rate']:g} req/s"
        out.print(
            f"Sweep {name}: highest rate with p99 <= {result['slo_p99_ms']:g} ms: {best} "
            f"({result['stopped_because']})"
        )
    for line in study_lines(study):
        out.print(line)
    out.print(f"Raw rows and manifest: {run_dir}")


def study_lines(study: dict[str, Any]) -> list[str]:
    """One line per pair's capacity and per scenario's common rate, as the manifest records them."""
    lines = []
    for name, pair in (study.get("pairs") or {}).items():
        cap = pair.get("capacity") or {}
        slo = pair.get("slo_p99_ms")
        head = f"Capacity {name} at p99 <= {slo:g} ms: " if slo is not None else f"Capacity {name}: "
        if cap.get("rate") is None:
            said = (
                cap.get("why") if cap.get("outcome") == "none" else f"{cap.get('outcome')}: {cap.get('why')}"
            )
            lines.append(head + f"none ({said})")
            continue
        high = "rate cap" if cap.get("high") is None else f"{cap['high']:g}"
        said = "confirmed" if cap.get("confirmed") else f"unconfirmed: {cap.get('why')}"
        lines.append(head + f"{cap['rate']:g} req/s, bracket [{cap['low']:g}, {high}) ({said})")
    for name, common in (study.get("common") or {}).items():
        if common.get("rate") is None:
            lines.append(f"Common rate {name}: none ({common.get('why')})")
        else:
            who = ", ".join(common.get("frameworks") or [])
            lines.append(
                f"Common rate {name}: {common['rate']:g} req/s ({100 * common['fraction']:g} % of "
                f"{common['of']}'s {common['lowest_capacity']:g} req/s) for {who}"
            )
    return lines


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
