"""The `kit` command line: parse, call one library function, render. Nothing imports this module."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from kit import __version__, config
from kit.doctor import run_checks
from kit.errors import KitError, UsageError
from kit.ids import SCENARIOS
from kit.stages import Kit, require_framework, require_scenario

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


class State:
    def __init__(self, config_path: Path | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug

    def kit(self) -> Kit:
        return Kit(config.load(self.config_path))


@contextmanager
def live(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner whose line follows the stage's progress messages (stderr, so --json stays clean)."""
    with err.status(title) as status:

        def update(message: str) -> None:
            if message:
                status.update(f"{title}: {message[:120]}")

        yield update


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


INTERRUPTED_HINT = "rows measured so far are kept and their cell marked partial; `kit down` cleans up"


class KitGroup(click.Group):
    """Turns every expected failure into one `Error:` and one `Hint:` line and the exit code.

    KitError exits 1 (UsageError 2, like Click's own usage errors); Ctrl-C exits 130. With --debug the
    traceback comes first.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "kit"
            click.echo(f"Error: {exc.format_message()}", err=True)
            click.echo(f"Hint: run `{where} --help` for usage", err=True)
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            click.echo("Hint: run `kit --help` for usage", err=True)
            code = exc.exit_code
        except click.exceptions.Abort:
            click.echo("Error: interrupted", err=True)
            click.echo(f"Hint: {INTERRUPTED_HINT}", err=True)
            code = 130
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KitError as exc:
            if "--debug" in sys.argv[1:] or (ctx.obj is not None and getattr(ctx.obj, "debug", False)):
                traceback.print_exc()
            click.echo(f"Error: {exc.what}", err=True)
            click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(2 if isinstance(exc, UsageError) else 1)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            click.echo(f"Hint: {INTERRUPTED_HINT}", err=True)
            ctx.exit(130)


@click.group(cls=KitGroup)
@click.version_option(__version__, prog_name="kit")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="KIT_CONFIG",
    help="Experiment config (TOML). Default: built-in defaults.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Measure what model-serving frameworks really cost."""
    ctx.obj = State(config_path, debug)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(as_json: bool) -> None:
    """Check every prerequisite and print the fix for each missing one."""
    from kit.paths import Workspace

    checks = run_checks(Workspace.current().root)
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
@click.option("--provider", type=click.Choice(["local", "aws"]), default="local", show_default=True)
@click.option("--gpu", is_flag=True, help="GPU server hosts (aws only).")
@click.pass_obj
def up(state: State, provider: str, gpu: bool) -> None:
    """Provision one client and one server host per framework, then install everything on them."""
    if gpu and provider == "local":
        raise UsageError("--gpu needs --provider aws", "The local provider has no GPUs; drop --gpu")
    kit = state.kit()
    with live(f"kit up ({provider})") as progress:
        result = kit.up(provider, progress)
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in result["timings"].items())
    out.print(f"[green]Up[/]: environment {result['env_id']} on {provider} ({timings})")
    _hosts_table(result["hosts"])


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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(state: State, as_json: bool) -> None:
    """Show the environment's hosts and whether they answer."""
    data = state.kit().status()
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
@click.option("--provider", type=click.Choice(["local", "aws"]), default=None)
@click.pass_obj
def down(state: State, provider: str | None) -> None:
    """Destroy every host and the private network. Safe to run twice, or after any failure."""
    with live("kit down") as progress:
        result = state.kit().down(provider, progress)
    removed = ", ".join(result["removed"]) or "nothing was up"
    out.print(f"[green]Down[/] in {result['seconds']:.1f}s: {removed}")


@cli.command()
@click.argument("scenario", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def build(state: State, scenario: str | None, as_json: bool) -> None:
    """Build SCENARIO's model and its five exports (all scenarios if omitted); cached by content."""
    ids = _scenario_ids(scenario)
    with live("kit build") as progress:
        results = state.kit().build_all(ids, progress)
    rows = [{"scenario": r.scenario, "digest": r.digest, "cached": r.cached, "root": str(r.root),
             "exports": sorted(r.exports), "metrics": r.metrics} for r in results]
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def parity(state: State, scenario: str | None, as_json: bool) -> None:
    """Load every export of SCENARIO (all if omitted) in process; require the source model's outputs."""
    ids = _scenario_ids(scenario)
    with live("kit parity") as progress:
        results = state.kit().parity_in_process(ids, progress)
    if as_json:
        emit_json(results)
        return
    table = Table("scenario", "framework", "verdict", "max abs diff", "tolerance", "values",
                  title="parity in process")
    for sc, per_fw in results.items():
        for fw, r in per_fw.items():
            diff, tol = f"{r['max_abs_diff']:.3g}", f"{r['tolerance']:g}"
            table.add_row(sc, fw, r["verdict"], diff, tol, str(r["values"]))
    out.print(table)


@cli.command()
@click.argument("framework")
@click.argument("scenario")
@click.pass_obj
def deploy(state: State, framework: str, scenario: str) -> None:
    """Ship SCENARIO's model to FRAMEWORK's host, wait until healthy, check parity from the client."""
    require_framework(framework)
    require_scenario(scenario)
    with live(f"kit deploy {framework} {scenario}") as progress:
        result = state.kit().deploy(framework, scenario, progress)
    out.print(
        f"[green]Deployed[/] {scenario} on {result['host']} in {result['seconds']:.1f}s; "
        f"parity {result['parity']['verdict']} (max abs diff {result['parity']['max_abs_diff']:.3g})"
    )


@cli.command()
@click.argument("framework")
@click.argument("scenario", required=False)
@click.option(
    "--profile",
    type=click.Choice(sorted(config.PROFILES)),
    default=None,
    help="Bench profile (default: the config's, smoke).",
)
@click.pass_obj
def bench(state: State, framework: str, scenario: str | None, profile: str | None) -> None:
    """Drive open-loop load at FRAMEWORK serving SCENARIO (or `all`) from the client host."""
    kit = state.kit()
    if framework == "all" and scenario is None:
        pairs = [(fw, sc) for fw in kit.cfg.frameworks for sc in kit.cfg.scenarios]
    else:
        if scenario is None:
            raise UsageError(
                "missing SCENARIO",
                f"Usage: kit bench FRAMEWORK SCENARIO, or kit bench all; scenarios: {', '.join(SCENARIOS)}",
            )
        require_framework(framework)
        require_scenario(scenario)
        pairs = [(framework, scenario)]
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

    with live("kit bench") as progress:
        run_dir = kit.bench(pairs, profile, progress=progress, on_cell=on_cell)
    out.print(table)
    out.print(f"Raw rows and manifest: {run_dir}")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


@cli.command()
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def report(state: State, run: str | None, as_json: bool) -> None:
    """Write tables and plots for RUN (default: the latest) under results/<run>/report/."""
    result = state.kit().report(run)
    if as_json:
        emit_json(result)
        return
    table = Table(
        "framework",
        "scenario",
        "payload",
        "rate",
        "rep",
        "p50",
        "p90",
        "p99",
        "max",
        "mean",
        "achieved/s",
        "errors",
        title=f"run {result['run_id']} (latency in ms)",
    )
    for r in result["summary"]:
        table.add_row(
            r["framework"],
            r["scenario"],
            r["payload"],
            f"{r['rate']:g}",
            str(r["rep"]),
            *(_fmt(r.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "achieved_rate")),
            str(r.get("errors")),
        )
    out.print(table)
    for f in result["files"]:
        out.print(f"wrote {f}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="kit")
