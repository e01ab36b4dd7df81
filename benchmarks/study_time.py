"""Where a bench run's wall time went: load, waiting between cells, deploys; per pair and per kind of cell.

    .venv/bin/python benchmarks/study_time.py RUN_DIR

Reads the run folder only (manifest.json and raw/): each cell's span is its first scheduled send to
its last reply (warm-up and measured phase), its measured part the same over the measured rows. The
wall time is from the run's first part's start to the last reply. What is left between cells
(samplers started and stopped over SSH, the engine shipped and fetched, cooldowns, the wait for a
server after an overloaded cell, deploys and parity checks, restarts) is "between cells"; deploys
are also shown alone (the manifest's stage timings). A study's cells are told apart by repetition:
sweep probes (rep < the profile's repetitions), confirmations (up to rep 9), the common pass
(reps 10-19) and the repetitions that extend an unproven probe (20 and up; kit/bench/slo.py).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from kit.bench.slo import COMMON_REP, EXTEND_REP
from kit.results import store

NS = 1e9


def kind(rep: int, probe_reps: int) -> str:
    if rep >= EXTEND_REP:
        return "extension"
    if rep >= COMMON_REP:
        return "common rate"
    return "sweep probe" if rep < probe_reps else "confirmation"


def cell_spans(run: Path) -> pl.DataFrame:
    rows = store.scan_raw(run).select(
        "framework", "scenario", "payload", "rate", "rep", "phase", "intended_ns", "done_ns"
    )
    measured = pl.col("phase") == "measure"
    return (
        rows.group_by("framework", "scenario", "payload", "rate", "rep")
        .agg(
            pl.col("intended_ns").min().alias("start_ns"),
            pl.col("done_ns").max().alias("end_ns"),
            pl.col("intended_ns").filter(measured).min().alias("m_start_ns"),
            pl.col("done_ns").filter(measured).max().alias("m_end_ns"),
        )
        .sort("start_ns")
        .collect()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    args = parser.parse_args()
    man = json.loads((args.run / "manifest.json").read_text())
    probe_reps = int(man["config"]["bench"].get("repetitions", 1))
    spans = cell_spans(args.run).with_columns(
        ((pl.col("end_ns") - pl.col("start_ns")) / NS).alias("cell_s"),
        ((pl.col("m_end_ns") - pl.col("m_start_ns")) / NS).alias("measured_s"),
        pl.col("rep").map_elements(lambda r: kind(r, probe_reps), return_dtype=pl.String).alias("kind"),
    )
    started = datetime.strptime(
        (man.get("parts") or [{}])[0].get("started_at", man["created_at"]), "%Y-%m-%dT%H:%M:%SZ"
    )
    start_ns = int(started.replace(tzinfo=UTC).timestamp() * NS)
    wall = (int(spans["end_ns"].max()) - start_ns) / NS
    load, measured = float(spans["cell_s"].sum()), float(spans["measured_s"].sum())
    deploys = {k: v for k, v in man.get("stage_timings", {}).items() if k.startswith("deploy:")}
    print(f"run {man['run_id']}: {spans.height} cells with rows, wall {wall:.0f} s ({wall / 60:.1f} min)")
    print(f"  load (warm-up + measured): {load:.0f} s, of it measured {measured:.0f} s")
    print(
        f"  between cells: {wall - load:.0f} s, of it deploys and parity checks {sum(deploys.values()):.0f} s"
    )
    print("\nper kind of cell: cells, load s, measured s")
    for row in (
        spans.group_by("kind")
        .agg(pl.len(), pl.col("cell_s").sum(), pl.col("measured_s").sum())
        .sort("kind")
        .iter_rows()
    ):
        print(f"  {row[0]:<13} {row[1]:>4} {row[2]:>8.0f} {row[3]:>8.0f}")
    print("\nper pair: cells, load s, first send -> last reply s, deploy s")
    pairs = spans.group_by("framework", "scenario").agg(
        pl.len(),
        pl.col("cell_s").sum(),
        ((pl.col("end_ns").max() - pl.col("start_ns").min()) / NS).alias("span_s"),
    )
    for fw, sc, n, cell_s, span_s in pairs.sort("scenario", "framework").iter_rows():
        deploy = sum(v for k, v in deploys.items() if k.split(":")[1:3] == [fw, sc])
        print(f"  {fw + '/' + sc:<20} {n:>4} {cell_s:>8.0f} {span_s:>8.0f} {deploy:>8.0f}")


if __name__ == "__main__":
    main()
