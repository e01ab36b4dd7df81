"""Aggregating 10 million raw rows: how long, and how much memory?

    .venv/bin/python benchmarks/aggregate.py [--rows 10000000] [--files 720] [--seed 7] [--keep DIR]

Writes a seeded synthetic run shaped like a real `kit bench all` (5 frameworks x 4 scenarios x 3
payloads x 4 rates x 3 repetitions = 720 raw files, one per cell, about 14,000 rows each, 10 % of
them warm-up) into a temporary folder with the kit's own writer (kit.results.store.write_raw), then
reads it back the way `kit report` does (kit.results.analysis.analyse: inspect every file, per-cell
figures, usage, averages over repetitions) and prints the wall time and the peak resident memory.

Target (issue 6): at most 5 s and 2 GB on the 2-core development machine. Peak memory is the
process's high-water mark (resource.getrusage, ru_maxrss); the rows are generated one file at a time
so that generating them does not set that mark. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from kit import __version__
from kit.ids import FRAMEWORKS, SCENARIOS
from kit.results import analysis, manifest, repetitions, store
from kit.results.cells import CellKey
from kit.results.schema import conform

PAYLOADS = ("small", "medium", "large")
RATES = (50.0, 100.0, 200.0, 400.0)
REPS = 3
WARMUP_SHARE = 0.1
T0_NS = 1_800_000_000_000_000_000


def cells(count: int) -> list[tuple[str, str, str, float, int]]:
    every = list(itertools.product(FRAMEWORKS, SCENARIOS, PAYLOADS, RATES, range(REPS)))
    if count > len(every):
        raise SystemExit(f"at most {len(every)} files (one per cell)")
    return every[:count]


def cell_rows(rng: np.random.Generator, n: int, cell: tuple[str, str, str, float, int]) -> pl.DataFrame:
    """n rows of one cell: constant-rate schedule, log-normal service times, a few failures."""
    framework, scenario, payload, rate, rep = cell
    seq = np.arange(n, dtype=np.int64)
    intended = T0_NS + (seq * (1e9 / rate)).astype(np.int64)
    lag = rng.exponential(50_000, n).astype(np.int64)
    service = rng.lognormal(np.log(4e6), 0.35, n).astype(np.int64)
    sent = intended + lag
    done = sent + service
    code = np.where(rng.random(n) < 0.002, 503, 200).astype(np.int32)
    warm = int(n * WARMUP_SHARE)
    return conform(
        pl.DataFrame(
            {
                "run_id": "bench",
                "framework": framework,
                "scenario": scenario,
                "payload": payload,
                "rate": rate,
                "rep": rep,
                "phase": np.where(seq < warm, "warmup", "measure"),
                "seq": seq,
                "intended_ns": intended,
                "sent_ns": sent,
                "done_ns": done,
                "latency_ns": done - intended,
                "service_ns": done - sent,
                "code": code,
                "bytes_out": np.full(n, 512, dtype=np.int64),
                "bytes_in": np.full(n, 64, dtype=np.int64),
                "error": pl.Series([None] * n, dtype=pl.String),
                "engine": "kit",
            }
        )
    )


def generate(run_dir: Path, rows: int, files: int, seed: int) -> None:
    """The raw files and a manifest listing every cell `ok`, as a finished run has them."""
    rng = np.random.default_rng(seed)
    todo = cells(files)
    man = manifest.new_manifest(
        run_id="bench",
        kit_version=__version__,
        git_sha="unknown",
        config={"seed": seed},
        config_hash="bench",
        provider="local",
    )
    per_file, extra = divmod(rows, len(todo))
    for i, cell in enumerate(todo):
        n = per_file + (1 if i < extra else 0)
        key = CellKey(*cell)
        store.write_raw(cell_rows(rng, n, cell), key.raw_path(run_dir))
        manifest.update_cell(man, {**key.as_dict(), "status": "ok", "reason": "", "summary": {}})  # type: ignore[typeddict-item]
    manifest.save(run_dir, man)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=720)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="Write the run here and keep it (default: a temp dir).")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kit-aggregate-"))
    run_dir = args.keep or tmp / "results" / "bench"
    try:
        started = time.perf_counter()
        generate(run_dir, args.rows, args.files, args.seed)
        print(f"generated {args.rows:,} rows in {args.files} files in {time.perf_counter() - started:.1f} s")
        before = peak_rss_mb()

        started = time.perf_counter()
        data = analysis.analyse(run_dir)
        wall = time.perf_counter() - started
        counted = int(data.cells["requests"].sum())
        print(f"cells: {data.cells.height}, groups: {data.groups.height}, measured rows counted: {counted:,}")
        print(f"aggregate wall time: {wall:.2f} s (target <= 5 s)")
        print(f"peak RSS: {peak_rss_mb():.0f} MB (target <= 2048 MB; {before:.0f} MB before aggregating)")

        started = time.perf_counter()
        profiles = repetitions.latency_profiles(data.group_files())
        print(
            f"pooled latency distributions for the plots ({len(profiles)} groups): "
            f"{time.perf_counter() - started:.2f} s more, peak RSS now {peak_rss_mb():.0f} MB"
        )
        if data.problems or data.notes:
            print("problems and notes:", *data.problems, *data.notes, sep="\n  ")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
