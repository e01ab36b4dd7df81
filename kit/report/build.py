"""`kit report`: results/<run>/report/ with report.md, a self-contained report.html, PNG plots and
the per-cell and per-group figures as CSV, from the run folder alone.

Reads only what the run folder holds (manifest.json, raw/, telemetry/) plus a price table, so a
results folder copied to a laptop with no hosts reports the same as on the controller that measured
it. Damage (kit.results.analysis) never stops a report: what can be read is shown and each problem
is listed. `Report.checked`, what the CLI calls, then still ends in a KitError naming the first problem,
so that a script (or a person skimming the terminal) cannot take a partial report for a whole one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from kit.errors import KitError
from kit.ids import SCENARIOS
from kit.report import cost_section, plots, study_plots, study_section, tables
from kit.report.document import Block, Bullets, Heading, Image, Para, Table, to_html, to_markdown
from kit.report.facts import restart_steps as restart_steps
from kit.report.facts import run_facts
from kit.report.facts import shaped_links as shaped_links
from kit.results import aggregate, analysis, claims, cost, pricing, repetitions, store, study
from kit.results.analysis import RunData
from kit.results.price_table import PriceTable

NO_ROWS = "No measured rows in this run."
OWNED = ("report.md", "report.html", "cells.csv", "groups.csv", "answer.csv")

METHOD = (
    "Latency is measured from each request's scheduled send time (open loop, so a stalled server "
    "shows in the tail), failed requests included; warm-up rows are never counted; quantiles "
    "interpolate linearly between order statistics. A cell is invalid when the client, not the "
    "server, shaped its figures: it sent under 99 % of the rate its own schedule held (under Poisson "
    "arrivals the draw's rate, not the nominal one), or its send lag could have moved the latency "
    "figures by more than 1 ms and 5 % (the lag at p99, or the second-worst of 100 sends or fewer, "
    "against the server's median; the lag's share of the p99 against the p99). A cell is overloaded "
    "when more than 1 % of its measured requests failed: shown, never counted. A repetition is counted "
    "towards averages, claims and cost when the manifest says `ok` (without a manifest: when it is "
    "valid, had at least one 2xx reply and at most 1 % failures). Cells measured with vegeta time "
    "each request from its actual send, not its schedule (the engine column says so): a stalled "
    "client or server shows less in their tail. Across repetitions each figure is the mean of the "
    "counted repetitions with a 95 % confidence interval from Student's t distribution "
    "(mean ± t(0.975, n-1)·s/√n; no bootstrap: with 3 repetitions it would resample the same 3 "
    "values); with fewer than two counted repetitions only the mean is shown. Each cell's figures "
    "rest on its `requests`; a p99 from fewer than 299 of them, or a p99.9 from fewer than 2,995, is "
    "marked † (too few to show that percentile: with 0.99^299 < 5 %, it is the least count at which "
    "even a clean run shows its p99 with 95 % confidence)."
)
CLAIMS_METHOD = (
    "From IC2E 2024: TF Serving beats every other framework on each scenario, and the two "
    "DL-specific frameworks (TF Serving, TorchServe) beat the three general-purpose ones "
    "(MLServer, MLflow, BentoML). Checked here on median latency: A beats B when A's mean p50 is "
    "below B's with the 95 % intervals apart at every payload and rate both were measured at. "
    "`within noise`: the intervals overlap; `no interval`: fewer than two counted repetitions; "
    "`not measured`: a framework has no counted repetition there (the reason is given), never a guess."
)


@dataclass
class Report:
    data: RunData
    folder: Path
    files: list[Path]
    cost: pl.DataFrame
    prices: PriceTable
    claims: list[dict[str, str]]
    notes: list[str]
    answer: pl.DataFrame | None = None  # the study's answer (kit.results.study); None: not a study

    @property
    def run_id(self) -> str:
        return self.data.run_id

    @property
    def problems(self) -> list[str]:
        return self.data.problems

    def checked(self) -> dict[str, Any]:
        """What `kit report` prints, or a KitError naming the first problem when the run was not
        read whole (the report files are written either way)."""
        if self.problems:
            more = len(self.problems) - 1
            raise ReportIncomplete(
                self.problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""),
                f"The report ({self.folder / 'report.html'}) shows what could be read and lists every "
                "problem; restore the files from a copy or rerun those cells",
            )
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "report_dir": str(self.folder),
            "files": [str(f) for f in self.files],
            "problems": self.problems,
            "notes": self.notes,
            "prices": cost_section.prices_json(self.prices, self.data.manifest),
            "cells": self.data.cells.to_dicts(),
            "groups": self.data.groups.to_dicts(),
            "cost": self.cost.to_dicts(),
            "claims": self.claims,
            "answer": self.answer.to_dicts() if self.answer is not None else None,
        }


class ReportIncomplete(KitError):
    """The report was written, but some of the run could not be read."""


def build_report(
    run_dir: Path, *, workspace_prices: Path | None = None, refresh_prices: bool = False
) -> Report:
    """Write the report files (rebuilt from the run on every call) and return what they show."""
    data = analysis.analyse(run_dir)
    man = data.manifest
    regions = sorted({r for r in [cost.region_of(man) if man else None] if r} | {"us-east-1", "us-west-2"})
    prices, notes = pricing.table_for_report(workspace_prices, refresh_prices=refresh_prices, regions=regions)
    costs = cost.cost_table(data.groups, man, prices)
    answer = study.answer(data, prices) if study.has_study(data) else None

    def reason(framework: str, scenario: str) -> str:
        return analysis.not_measured_reason(data, framework, scenario)

    verdicts = (
        claims.check(data.groups, reason, data.scenarios)
        if answer is None
        else claims.check_study(answer, reason, data.scenarios)
    )
    out = run_dir / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
        images = _plots(data, out)
        report = Report(data, out, [], costs, prices, verdicts, [*data.notes, *notes], answer)
        blocks = _blocks(report, images)
        written = [out / "report.md", out / "report.html", out / "cells.csv", out / "groups.csv"]
        written[0].write_text(to_markdown(blocks))
        written[1].write_text(to_html(blocks, f"Run {report.run_id}"))
        data.cells.write_csv(written[2])
        data.groups.write_csv(written[3])
        if answer is not None:  # the study's answer, one row per scenario, payload and framework
            written.append(out / "answer.csv")
            answer.write_csv(written[-1])
    except (OSError, pl.exceptions.PolarsError) as exc:
        # The report is derived: the run's own files are untouched, and `kit report` rewrites it whole.
        raise (store.io_failure(out, exc) or exc) from exc
    report.files = written + images
    _remove_stale(out, report.files)
    return report


def _plots(data: RunData, out: Path) -> list[Path]:
    # A group with no counted repetition (every one invalid, partial or failed) is still drawn, marked
    # as not counted: its latencies are what was observed, and hiding them would leave a run whose
    # cells all failed the gates with no picture at all.
    counted = data.group_files()
    shown = {**data.group_files(only_counted=False), **counted}
    profiles = repetitions.latency_profiles(dict(sorted(shown.items())))
    marks = data.group_marks()
    for prof in profiles:
        key = tuple(prof[c] for c in aggregate.GROUP)
        prof["counted"] = key in counted
        prof["mark"] = marks.get(key, analysis.NOT_COUNTED)
    images = study_plots.slo_sweeps(data, out) if study.has_study(data) else []
    images += plots.latency_cdfs(profiles, out) + plots.latency_boxes(profiles, out)
    images += plots.throughput_latency(data.groups, out, _overloaded_points(data))
    usage = plots.resources(_usage_points(data), out)
    return images + ([usage] if usage else [])


USAGE_FIGURES = ("achieved_rate", "server_cpu_mean_pct", "server_rss_max_mb")


def _overloaded_points(data: RunData) -> pl.DataFrame:
    """Per group with no counted repetition but an overloaded one: the means of its overloaded
    repetitions' achieved rate and p99, where the throughput plot marks the server breaking."""
    over = data.groups.filter((pl.col("reps_counted") == 0) & (pl.col("reps_overloaded") > 0))
    return (
        data.cells.filter(pl.col("status") == "overloaded")
        .join(over.select(aggregate.GROUP), on=aggregate.GROUP, nulls_equal=True)
        .group_by(aggregate.GROUP)
        .agg(pl.col("achieved_rate").mean(), pl.col("p99_ms").mean())
        .sort(aggregate.GROUP)
    )


def _usage_points(data: RunData) -> pl.DataFrame:
    """One resources point per group: the means of its counted repetitions, or, for a group with
    none counted, the means of all its repetitions with `counted` false (drawn, marked, as the CDFs)."""
    counted = data.groups.filter(pl.col("reps_counted") > 0).select(
        *aggregate.GROUP,
        *USAGE_FIGURES,
        pl.lit(True).alias("counted"),
        pl.lit(analysis.COUNTED).alias("mark"),
    )
    if data.cells.height == 0:
        return counted
    every_rep = data.cells.with_columns(pl.lit(True).alias("counted"))
    everything = repetitions.across_reps(every_rep, USAGE_FIGURES)
    marks = data.group_marks()
    rest = everything.join(counted.select(aggregate.GROUP), on=aggregate.GROUP, how="anti")
    mark = [marks.get(tuple(r), analysis.NOT_COUNTED) for r in rest.select(aggregate.GROUP).rows()]
    rest = rest.select(*aggregate.GROUP, *USAGE_FIGURES, pl.lit(False).alias("counted")).with_columns(
        pl.Series("mark", mark, dtype=pl.String)
    )
    return pl.concat([counted, rest], how="vertical_relaxed")


def _blocks(report: Report, images: list[Path]) -> list[Block]:
    data = report.data
    blocks: list[Block] = [Heading(f"Run {report.run_id}", 1), Para(run_facts(data))]
    if report.answer is not None:
        blocks += study_section.blocks(report.answer, study.common_rates(data), images)
        images = [p for p in images if not study_plots.is_study_plot(p)]
    blocks += [Heading("How to read these figures"), Para(METHOD)]
    if report.problems:
        blocks += [Heading("Problems: what could not be read"), Bullets(report.problems)]
    if report.notes:
        blocks += [Heading("Notes"), Bullets(report.notes)]
    blocks.append(Heading("Across repetitions: mean [95 % CI]"))
    measured = data.cells.height > 0
    blocks.append(tables.group_latency_table(data.groups) if measured else Para(NO_ROWS))
    if measured:
        blocks += [
            Heading("Per cell and repetition: latency (ms)"),
            tables.cell_latency_table(data.cells),
            Heading("Per cell and repetition: load, send lag and validity"),
            tables.cell_load_table(data.cells),
        ]
    blocks.append(Heading("Resource usage: mean [95 % CI]"))
    if tables.has_usage(data.groups):
        blocks.append(tables.group_usage_table(data.groups))
    else:
        blocks.append(Para("No telemetry in this run: no CPU, memory or GPU figures."))
    blocks += [Heading("Cost per million inferences"), *_cost_blocks(report)]
    method = CLAIMS_METHOD if report.answer is None else claims.STUDY_METHOD
    blocks += [Heading("The study's claims"), Para(method)]
    absent = [s for s in SCENARIOS if s not in data.scenarios]
    if absent:
        blocks.append(Para(f"Scenarios this run did not set out to measure: {', '.join(absent)}."))
    blocks += [tables.claims_table(report.claims, overall=True), Heading("Every pair", 3)]
    evidence = tables.EVIDENCE if report.answer is None else study_section.CLAIMS_EVIDENCE
    blocks.append(tables.claims_table(report.claims, overall=False, evidence=evidence))
    status = tables.cell_status_lines(data.cell_records())
    if status:
        blocks += [Heading("Cells that did not end ok"), Bullets(status)]
    if images:
        blocks += [Heading("Plots"), *(Image(p, p.stem.replace("_", " ")) for p in images)]
    return blocks


def _cost_blocks(report: Report) -> list[Block]:
    blocks = cost_section.blocks(report.prices, report.data.manifest)
    if report.data.manifest is None:
        return blocks
    if report.cost.height == 0:
        blocks.append(Para(NO_ROWS))
        return blocks
    table: Table = tables.cost_table(report.cost)
    return [*blocks, table]


def _remove_stale(out: Path, keep: list[Path]) -> None:
    """Drop plots and files an earlier build wrote that this one did not (a cell since removed)."""
    for path in out.iterdir():
        owned = path.suffix == ".png" or path.name in OWNED
        if owned and path.is_file() and path not in keep:
            path.unlink()
