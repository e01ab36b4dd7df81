"""`kit build`, `parity`, `deploy`: the scenarios' models, built and shipped."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from kit import deploy
from kit.cli.base import State, cli, emit_json, json_option, live, out
from kit.ids import SCENARIOS, require_framework, require_scenario


@cli.command()
@click.argument("scenario", required=False)
@json_option
@click.pass_obj
def build(state: State, scenario: str | None, as_json: bool) -> None:
    """Build SCENARIO's model and its five exports (all scenarios if omitted); cached by content."""
    ids = _scenario_ids(scenario)
    with live("kit build") as progress:
        results = deploy.build_all(state.context(), ids, progress)
    rows: list[dict[str, Any]] = [
        {
            "scenario": r.scenario,
            "digest": r.digest,
            "cached": r.cached,
            "root": str(r.root),
            "exports": sorted(r.exports),
            "metrics": r.metrics,
        }
        for r in results
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("scenario", "digest", "cached", "exports", "metrics", title="builds")
    for r in rows:
        metrics = ", ".join(f"{k} {v}" for k, v in r["metrics"].items())
        cached = "yes" if r["cached"] else "built now"
        table.add_row(r["scenario"], r["digest"], cached, ", ".join(r["exports"]), metrics)
    out.print(table)


def _scenario_ids(scenario: str | None) -> list[str]:
    if scenario is None:
        return list(SCENARIOS)
    require_scenario(scenario)
    return [scenario]


@cli.command()
@click.argument("scenario", required=False)
@json_option
@click.pass_obj
def parity(state: State, scenario: str | None, as_json: bool) -> None:
    """Load every export of SCENARIO (all if omitted) in process; require the source model's outputs."""
    ids = _scenario_ids(scenario)
    with live("kit parity") as progress:
        results = deploy.parity_in_process(state.context(), ids, progress)
    if as_json:
        emit_json(results)
        return
    table = Table(
        "scenario", "framework", "verdict", "max abs diff", "tolerance", "values", title="parity in process"
    )
    for sc, per_fw in results.items():
        for fw, r in per_fw.items():
            diff, tol = f"{r['max_abs_diff']:.3g}", f"{r['tolerance']:g}"
            table.add_row(sc, fw, r["verdict"], diff, tol, str(r["values"]))
    out.print(table)


@cli.command("deploy")
@click.argument("framework")
@click.argument("scenario")
@click.pass_obj
def deploy_command(state: State, framework: str, scenario: str) -> None:
    """Ship SCENARIO's model to FRAMEWORK's host, wait until healthy, check parity from the client."""
    require_framework(framework)
    require_scenario(scenario)
    with live(f"kit deploy {framework} {scenario}") as progress:
        result = deploy.deploy(state.context(), framework, scenario, progress)
    out.print(
        f"[green]Deployed[/] {scenario} on {result['host']} in {result['seconds']:.1f}s; "
        f"parity {result['parity']['verdict']} (max abs diff {result['parity']['max_abs_diff']:.3g})"
    )
