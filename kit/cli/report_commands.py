"""`kit report` and `kit compare`: what runs measured, from the results folder alone."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from kit import runs
from kit.cli.base import State, cli, emit_json, json_option, out
from kit.results import pricing


@cli.command()
@click.argument("run", required=False)
@json_option
@click.option(
    "--refresh-prices",
    is_flag=True,
    help="Fetch today's EC2 prices from the AWS Price List API first (needs AWS credentials).",
)
@click.pass_obj
def report(state: State, run: str | None, as_json: bool, refresh_prices: bool) -> None:
    """Write report.md, report.html, plots and CSVs for RUN (default: the latest) under
    results/<run>/report/."""
    from rich.text import Text

    from kit.report.build import build_report
    from kit.report.tables import with_ci

    ws = state.context().ws
    prices = pricing.workspace_folder(ws)
    built = build_report(runs.resolve(ws, run), workspace_prices=prices, refresh_prices=refresh_prices)
    result = built.checked()
    if as_json:
        emit_json(result)
        return
    table = Table(
        "framework",
        "scenario",
        "payload",
        "rate",
        "reps",
        "p50 (ms)",
        "p99 (ms)",
        "achieved/s",
        "error %",
        title=f"run {result['run_id']}: mean [95 % CI] over counted repetitions",
    )
    for g in result["groups"]:
        table.add_row(
            g["framework"],
            g["scenario"],
            g["payload"],
            f"{g['rate']:g}",
            f"{g['reps_counted']}/{g['reps']}",
            *(Text(with_ci(g[k], g[f"{k}_lo"], g[f"{k}_hi"], 2)) for k in ("p50_ms", "p99_ms")),
            Text(with_ci(g["achieved_rate"], g["achieved_rate_lo"], g["achieved_rate_hi"], 1)),
            Text(with_ci(g["error_rate"], g["error_rate_lo"], g["error_rate_hi"], 2, 100.0)),
        )
    out.print(table)
    for c in result["claims"]:
        if c["comparison"] == "overall":
            out.print(Text(f"{c['scenario']}: {c['claim']}: {c['verdict']}"))
    for c in result["cost"]:
        out.print(Text(cost_line(c)))
    prices = result["prices"]
    out.print(Text(f"prices: {prices['source']}, as of {prices['as_of']}"))
    for note in result["notes"]:
        out.print(Text(f"note: {note}"))
    out.print(f"wrote {result['report_dir']}/report.md and report.html ({len(result['files'])} files)")


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@json_option
@click.pass_obj
def compare(state: State, run_a: str, run_b: str, as_json: bool) -> None:
    """Compare RUN_B against RUN_A, cell by cell: changes inside the 95 % intervals are within noise;
    cells whose configuration differs are refused."""
    from rich.text import Text

    from kit.report.tables import with_ci
    from kit.results.compare import compare_runs

    ws = state.context().ws
    result = compare_runs(runs.resolve(ws, run_a), runs.resolve(ws, run_b)).to_dict()
    if as_json:
        emit_json(result)
        return
    table = Table(
        "framework",
        "scenario",
        "payload",
        "rate",
        "figure",
        "A",
        "B",
        "change",
        "verdict",
        title=f"{result['run_b']} (B) against {result['run_a']} (A): mean [95 % CI]",
    )
    for r in result["rows"]:
        change = "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f} %"
        table.add_row(
            r["framework"],
            r["scenario"],
            r["payload"],
            f"{r['rate']:g}",
            r["figure"],
            Text(with_ci(r["a"], r["a_lo"], r["a_hi"], 3)),
            Text(with_ci(r["b"], r["b_lo"], r["b_hi"], 3)),
            change,
            r["verdict"],
        )
    out.print(table)
    for r in result["refused"]:
        why = "; ".join(r["differences"])
        where = f"{r['framework']}/{r['scenario']} {r['payload']}"
        out.print(Text(f"refused {where}: configuration differs: {why}"))
    for name in result["only_in_a"]:
        out.print(Text(f"only in {result['run_a']}: {name}"))
    for name in result["only_in_b"]:
        out.print(Text(f"only in {result['run_b']}: {name}"))
    for problem in result["problems"]:
        out.print(Text(f"problem: {problem}"))


def cost_line(c: dict[str, Any]) -> str:
    """One cost row as the terminal shows it: per inference and per request, named so, with what
    the price is (an instance's, or a labelled estimate) and where the rate came from."""
    where = f"cost {c['framework']}/{c['scenario']} {c['payload']}"
    if c["usd_per_million_requests"] is None:
        return f"{where}: no price ({c['note'] or c['price_basis'] or 'no sustainable rate'})"
    kind = " (estimate)" if c["price_kind"] == "estimate" else ""
    per_inference = c["usd_per_million_inferences"]
    inferences = "no count" if per_inference is None else f"${per_inference:.4g}"
    requests = f"${c['usd_per_million_requests']:.4g} per 1M requests{kind}"
    rate = f"{c['sustainable_rate']:g} req/s ({c['rate_source']})"
    return f"{where}: {inferences} per 1M inferences, {requests} at {rate}"
