"""`kit bench`: a new run (or a resumed one) over its pairs, each a part of the run on today's hosts.

The manifest is written before the first cell and after every outcome (kit.bench.run), so a run cut
short by Ctrl-C, a full disk or a lost session is resumed with `kit bench all --resume RUN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import __version__, runs
from kit.bench import protocol
from kit.bench.pair import measure_pair
from kit.bench.run import OnCell, Run
from kit.bench.settings import Request, pairs_for, require_slos, resolve
from kit.bench.study import finished, measure_study
from kit.config import BenchSettings
from kit.context import Context, Progress, quiet
from kit.errors import KitError
from kit.load import drive
from kit.results import manifest, pricing, resume
from kit.ssh import host_facts


@dataclass(frozen=True)
class Outcome:
    run_dir: Path
    #: pair/payload -> the sweep's report (best rate, probes, why it stopped); empty without a sweep.
    sweeps: dict[str, Any]
    #: The study's capacities and common rates (manifest `study`); empty unless the run is a study.
    study: dict[str, Any]


def bench(
    ctx: Context, request: Request, progress: Progress = quiet, on_cell: OnCell | None = None
) -> Outcome:
    """What `kit bench` was asked, measured: a new run, or the cells a resumed run still lacks."""
    pairs = pairs_for(ctx.cfg, request)
    if request.resume is not None:
        return resume_run(ctx, request.resume, progress, on_cell)
    settings = resolve(ctx.cfg, request.profile, request.overrides)
    require_slos(settings, pairs)
    protocol.check_schedules(settings, ctx.cfg.seed)
    return new_run(ctx, pairs, settings, request.profile, progress, on_cell)


def new_run(
    ctx: Context,
    pairs: list[tuple[str, str]],
    settings: BenchSettings,
    profile: str | None,
    progress: Progress = quiet,
    on_cell: OnCell | None = None,
    run_id: str | None = None,
) -> Outcome:
    """Every pair x payload x rate x repetition, as a new run under the results folder."""
    state = ctx.state()
    run_id = run_id or runs.new_run_id()
    if settings.engine == "vegeta":
        drive.require_vegeta(ctx.ssh, ctx.hosts.client)  # before any cell: the whole run needs it
    man = manifest.new_manifest(
        run_id=run_id,
        kit_version=__version__,
        git_sha=runs.git_sha(),
        config={
            **ctx.cfg.model_dump(mode="json"),
            "profile": profile or ctx.cfg.profile,
            "bench": settings.model_dump(mode="json"),
        },
        config_hash=ctx.cfg.digest(),
        provider=state.provider,
    )
    man["seeds"] = {"data": ctx.cfg.seed, "arrivals": ctx.cfg.seed}
    man["pairs"] = [list(p) for p in pairs]
    return measure(ctx, Run(man, ctx.ws.results / run_id, on_cell), pairs, settings, progress)


def resume_run(
    ctx: Context, run_name: str, progress: Progress = quiet, on_cell: OnCell | None = None
) -> Outcome:
    """Measure the cells of RUN that hold no final outcome (never run, or cut off by Ctrl-C), with
    the settings and pairs the run started with (kit.results.resume)."""
    run_dir = runs.resolve(ctx.ws, run_name)
    man = manifest.load(run_dir)
    resume.check_resumable(man, run_dir, ctx.cfg.digest())
    settings = BenchSettings.model_validate(man["config"]["bench"])
    pairs = [(fw, sc) for fw, sc in man.get("pairs") or []]
    if not pairs:  # a run from before pairs were recorded: its cells name them
        pairs = list(dict.fromkeys((c["framework"], c["scenario"]) for c in man["cells"]))
    run = Run(man, run_dir, on_cell)
    done = run.done()
    if (
        finished(run, pairs, settings)
        if settings.study
        else all(key in done for fw, sc in pairs for key in protocol.cells(settings, fw, sc))
    ):
        return Outcome(
            run_dir, run.sweeps(), run.study()
        )  # nothing to measure: no host touched, no part recorded
    resume.first_part(man)
    ctx.state()
    if settings.engine == "vegeta":
        drive.require_vegeta(ctx.ssh, ctx.hosts.client)
    return measure(ctx, run, pairs, settings, progress)


def measure(
    ctx: Context, run: Run, pairs: list[tuple[str, str]], settings: BenchSettings, progress: Progress
) -> Outcome:
    """The pairs' cells that the run holds no final outcome for, measured on today's hosts as one
    more part of the run (resume.start_part)."""
    state = ctx.state()
    facts = {h.name: {**h.model_dump(), **host_facts(ctx.ssh, h)} for h in ctx.hosts.all()}
    if state.provider == "local":
        require_own_cores(facts)
    part = run.start_part(runs.git_sha(), facts)
    table = pricing.current_table(pricing.workspace_folder(ctx.ws))
    run.record_what_prices_it([sc for _, sc in pairs], table)
    if settings.study:
        measure_study(ctx, run, pairs, settings, part, progress)
    else:
        for pair in pairs:
            measure_pair(ctx, run, pair, settings, part, progress)
    return Outcome(run.dir, run.sweeps(), run.study())


def require_own_cores(facts: dict[str, dict[str, Any]]) -> None:
    """Nothing is measured on a host that sees more cores than its own (a `kit up` cut off while the
    hosts shared their cores for the installs, Local.install_cores)."""
    for name, f in sorted(facts.items()):
        if str(f.get("cores")) != str(f.get("cpus")):
            raise KitError(
                f"{name} sees {f.get('cores')} cores, not its own {f.get('cpus')}: its CPU set is not "
                "the one the kit gave it",
                "Run `kit up` again: it pins every host back to its own cores",
            )
