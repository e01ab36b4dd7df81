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

from kit import __version__, config, deploy, env, runs
from kit.bench import runner
from kit.bench.settings import Request
from kit.context import Context
from kit.doctor import run_aws_checks, run_checks
from kit.errors import KitError, UsageError
from kit.ids import PROVIDERS, SCENARIOS, require_framework, require_scenario

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


class State:
    def __init__(self, config_path: Path | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug

    def context(self) -> Context:
        return Context(config.load(self.config_path))


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


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--json`: the same data as the table, machine-readable, on stdout (progress stays on stderr)."""
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def provider_option(default: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--provider`, its choices from kit.ids.PROVIDERS."""
    return click.option(
        "--provider", type=click.Choice(PROVIDERS), default=default, show_default=default is not None
    )


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


@cli.command()
@click.argument("scenario", required=False)
@json_option
@click.pass_obj
def build(state: State, scenario: str | None, as_json: bool) -> None:
    """Build SCENARIO's model and its five exports (all scenarios if omitted); cached by content."""
    ids = _scenario_ids(scenario)
    with live("kit build") as progress:
        results = deploy.build_all(state.context(), ids, progress)
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
    table = Table("scenario", "framework", "verdict", "max abs diff", "tolerance", "values",
                  title="parity in process")
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


@cli.command()
@click.argument("framework")
@click.argument("scenario", required=False)
@click.option(
    "--profile",
    type=click.Choice(sorted(config.PROFILES)),
    default=None,
    help="Bench profile (default: the config's, smoke).",
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
@click.option("--slo-p99-ms", type=click.FloatRange(min=0, min_open=True), help="The sweep's p99 SLO.")
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
    for name, result in outcome.sweeps.items():
        best = "none" if result["best_rate"] is None else f"{result['best_rate']:g} req/s"
        out.print(f"Sweep {name}: highest rate with p99 <= {result['slo_p99_ms']:g} ms: {best} "
                  f"({result['stopped_because']})")
    out.print(f"Raw rows and manifest: {run_dir}")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


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
    prices = ws.state / "prices"
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="kit")
