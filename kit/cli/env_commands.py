"""`kit doctor`, `up`, `status`, `down`, `reap`: the environment's hosts."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from kit import config, env
from kit.cli.base import State, cli, emit_json, err, json_option, live, out, provider_option
from kit.doctor import run_aws_checks, run_checks
from kit.errors import KitError


@cli.command()
@json_option
@provider_option("local")
@click.pass_obj
def doctor(state: State, as_json: bool, provider: str) -> None:
    """Check every prerequisite and print the fix for each missing one."""
    from kit.paths import Workspace

    root = Workspace.current().root
    if provider == "aws":
        aws = config.load(state.config_path).aws
        checks = run_aws_checks(root, aws.region, aws.provider_mirror)
    else:
        checks = run_checks(root)
    if as_json:
        emit_json([c.__dict__ for c in checks])
    else:
        table = Table("check", "status", "detail", "fix")
        for c in checks:
            table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]missing[/]", c.detail, c.fix)
        out.print(table)
    missing = [c.name for c in checks if not c.ok]
    if missing:
        raise KitError(
            f"missing prerequisites: {', '.join(missing)}", "Run the fix shown for each, then `kit doctor`"
        )


@cli.command()
@provider_option("local")
@click.option("--gpu", is_flag=True, help="GPU server hosts (aws only).")
@click.option("--yes", is_flag=True, help="aws: go on without asking after printing the cost estimate.")
@click.pass_obj
def up(state: State, provider: str, gpu: bool, yes: bool) -> None:
    """Provision one client and one server host per framework, then install everything on them."""
    ctx = state.context()
    env.provider(ctx, provider, gpu=gpu)  # --gpu on the local provider is refused before anything starts
    title = f"kit up ({provider})"
    with err.status(title) as spinner:

        def progress(message: str) -> None:
            if message:
                spinner.update(f"{title}: {message[:120]}")

        def confirm(report: Any) -> bool:
            spinner.stop()
            try:
                return _confirm_cost(report, yes)
            finally:
                spinner.start()

        result = env.up(ctx, provider, progress, gpu=gpu, confirm=confirm)
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in result["timings"].items())
    out.print(f"[green]Up[/]: environment {result['env_id']} on {provider} ({timings})")
    _hosts_table(result["hosts"])


def _confirm_cost(report: Any, yes: bool) -> bool:
    """Print the preflight's findings (AWS preflight Report rows); ask unless --yes."""
    table = Table("preflight", "", title="kit up --provider aws: what will be created")
    for label, value in report.rows():
        table.add_row(label, value)
    out.print(table)
    if yes:
        return True
    try:
        return click.confirm("Create these resources?", default=False, err=True)
    except click.exceptions.Abort:
        return False


def _hosts_table(hosts: dict[str, Any]) -> None:
    table = Table("host", "address", "cpus", "memory (MiB)", "framework")
    for host in [hosts["client"], *hosts["servers"].values()]:
        table.add_row(
            host["name"],
            host["private_ip"],
            str(host["cpus"]),
            str(host["memory_mb"]),
            host.get("framework") or "-",
        )
    out.print(table)


@cli.command()
@json_option
@click.pass_obj
def status(state: State, as_json: bool) -> None:
    """Show the environment's hosts and whether they answer."""
    data = env.status(state.context())
    if as_json:
        emit_json(data)
        return
    if not data["up"]:
        out.print("No environment is up. Start one with `kit up`.")
        return
    out.print(f"Environment {data['env_id']} on {data['provider']} (since {data['created_at']})")
    table = Table("host", "address", "cpus", "memory (MiB)", "framework", "answers")
    for h in data["hosts"]:
        table.add_row(
            h["name"],
            h["private_ip"],
            str(h["cpus"]),
            str(h["memory_mb"]),
            h["framework"] or "-",
            "[green]yes[/]" if h["reachable"] else "[red]no[/]",
        )
    out.print(table)
    for fw, models in data["deployed"].items():
        out.print(f"{fw}: deployed {', '.join(sorted(models))}")


@cli.command()
@provider_option(None)
@click.pass_obj
def down(state: State, provider: str | None) -> None:
    """Destroy every host and the private network. Safe to run twice, or after any failure."""
    with live("kit down") as progress:
        result = env.down(state.context(), provider, progress)
    removed = ", ".join(result["removed"]) or "nothing was up"
    out.print(f"[green]Down[/] in {result['seconds']:.1f}s: {removed}")


@cli.command()
@click.option("--run-id", default=None, help="Delete this run's resources, expired or not.")
@click.option("--region", default=None, help="Region to search (default: the config's [aws] region).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@json_option
@click.pass_obj
def reap(state: State, run_id: str | None, region: str | None, dry_run: bool, as_json: bool) -> None:
    """Delete every AWS resource the kit tagged whose ExpiresAt has passed (or of --run-id), state or not."""
    with live("kit reap") as progress:
        result = env.reap(state.context(), run_id, dry_run=dry_run, region=region, progress=progress)
    if as_json:
        emit_json(result)
        return
    if not result["resources"]:
        what = f"run {run_id}" if run_id else "expired runs"
        out.print(f"Nothing to reap in {result['region']}: no resources of {what}.")
    else:
        title = f"kit resources in {result['region']}"
        table = Table("run", "kind", "id", "owner", "expires at", title=title)
        for r in result["resources"]:
            table.add_row(r["run_id"], r["kind"], r["id"], r["owner"], r["expires_at"])
        out.print(table)
        verb = "Would delete" if result["dry_run"] else "[green]Deleted[/]"
        count = len(result["resources"]) if result["dry_run"] else len(result["deleted"])
        out.print(f"{verb} {count} resource(s) of {', '.join(result['runs'])}")
    if result["kept_runs"]:
        out.print(f"Not expired, kept: {', '.join(result['kept_runs'])}")
