"""Resource usage per cell, from the telemetry files beside the raw rows, when there are any.

Layout (written by kit.telemetry): results/<run>/telemetry/<framework>/<scenario>/<payload>/<rate>/
rep<k>.parquet, one file per cell, one row per sample (host, framework, role, phase, ts_ns, cpu_pct,
rss_bytes, gpu_util_pct, gpu_mem_bytes). The cell comes from the file's place in the layout (the
samples do not repeat it). Only samples of the measured phase count, as for latency; a file without
the `phase` column (an older sampler) counts every sample, and says so. A file without `role`
counts host `client` as the client and every other host as the server. A run without telemetry, or
a cell without its file, simply has no usage figures: they show as missing, never as zero.

Per cell: server CPU mean and max (% of the server host's CPUs), server resident memory max (MB),
server GPU utilisation mean (%) and GPU memory max (MB), client CPU mean, and the sample count.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kit.results.aggregate import CELL
from kit.results.cells import CellKey

GLOB = "*/*/*/*/rep*.parquet"
MB = 1024 * 1024

USAGE_SCHEMA: dict[str, pl.DataType] = {
    "framework": pl.String(),
    "scenario": pl.String(),
    "payload": pl.String(),
    "rate": pl.Float64(),
    "rep": pl.Int32(),
    "telemetry_samples": pl.Int64(),
    "server_cpu_mean_pct": pl.Float64(),
    "server_cpu_max_pct": pl.Float64(),
    "server_rss_max_mb": pl.Float64(),
    "server_gpu_util_mean_pct": pl.Float64(),
    "server_gpu_mem_max_mb": pl.Float64(),
    "client_cpu_mean_pct": pl.Float64(),
}
_COLUMNS = {
    "role": pl.String(),
    "phase": pl.String(),
    "host": pl.String(),
    "cpu_pct": pl.Float64(),
    "rss_bytes": pl.Float64(),
    "gpu_util_pct": pl.Float64(),
    "gpu_mem_bytes": pl.Float64(),
}


def telemetry_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "telemetry").glob(GLOB))


def cell_usage(run_dir: Path) -> tuple[pl.DataFrame, list[str], list[str]]:
    """One row per cell with telemetry (USAGE_SCHEMA), a line for each file that could not be used,
    and caveats about the ones that were."""
    frames: list[pl.DataFrame] = []
    problems: list[str] = []
    notes: list[str] = []
    unlabelled = 0
    for path in telemetry_files(run_dir):
        key = CellKey.from_path(run_dir / "telemetry", path)
        if key is None:
            problems.append(f"{path} is not where a telemetry file goes: left out")
            continue
        try:
            samples = pl.read_parquet(path, hive_partitioning=False)
        except (OSError, pl.exceptions.PolarsError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            problems.append(f"telemetry file {path} is unreadable ({first}): that cell has no usage figures")
            continue
        if "phase" not in samples.columns:
            unlabelled += 1
        frames.append(_one_cell(_normalise(samples), key))
    if unlabelled:
        notes.append(
            f"{unlabelled} telemetry file(s) have no phase labels: "
            "their usage figures include warm-up samples"
        )
    empty = pl.DataFrame(schema=USAGE_SCHEMA)
    return (pl.concat([empty, *frames], how="vertical").sort(CELL) if frames else empty), problems, notes


def _normalise(samples: pl.DataFrame) -> pl.DataFrame:
    """Every column the figures need, with the documented defaults for the ones a file lacks."""
    missing = {c: t for c, t in _COLUMNS.items() if c not in samples.columns}
    df = samples.with_columns(pl.lit(None, t).alias(c) for c, t in missing.items())
    role = pl.col("role")
    if "role" in missing:
        role = pl.when(pl.col("host") == "client").then(pl.lit("client")).otherwise(pl.lit("server"))
    phase = pl.lit("measure") if "phase" in missing else pl.col("phase")
    return df.select(
        role.alias("role"),
        phase.alias("phase"),
        *(pl.col(c).cast(t) for c, t in _COLUMNS.items() if c not in ("role", "phase")),
    )


def _one_cell(samples: pl.DataFrame, key: CellKey) -> pl.DataFrame:
    measured = samples.filter(pl.col("phase") == "measure")
    server = pl.col("role") == "server"
    client = pl.col("role") == "client"
    row = measured.select(
        pl.len().cast(pl.Int64).alias("telemetry_samples"),
        pl.col("cpu_pct").filter(server).mean().alias("server_cpu_mean_pct"),
        pl.col("cpu_pct").filter(server).max().alias("server_cpu_max_pct"),
        (pl.col("rss_bytes").filter(server).max() / MB).alias("server_rss_max_mb"),
        pl.col("gpu_util_pct").filter(server).mean().alias("server_gpu_util_mean_pct"),
        (pl.col("gpu_mem_bytes").filter(server).max() / MB).alias("server_gpu_mem_max_mb"),
        pl.col("cpu_pct").filter(client).mean().alias("client_cpu_mean_pct"),
    )
    keys = pl.DataFrame([key.as_dict()]).cast({"rate": pl.Float64, "rep": pl.Int32})
    return pl.concat([keys, row], how="horizontal").cast(pl.Schema(USAGE_SCHEMA))
