"""Server CPU and memory per inference at the study's common rate: figures that travel across
hardware and price lists, where dollars per inference do not.

Per counted repetition, with inferences per second = its 2xx rate x instances per request:

    CPU-seconds per 1,000 inferences  = mean CPU share (0-1 of the host) x host cores / inferences/s x 1000
    GiB-seconds per 1,000 inferences  = mean resident memory (GiB) / inferences/s x 1000

then the mean and 95 % interval across repetitions. The CPU share is the sampler's, over the measured
phase (kit.results.usage); the memory is the mean of the server unit's resident memory over the
measured phase, read here from the telemetry file (usage keeps only its maximum).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from kit.results import stats
from kit.results.cells import CellKey

MB = 1024 * 1024


def per_inference(
    run_dir: Path, counted: pl.DataFrame, host: Mapping[str, Any], count: int | None
) -> dict[str, Any]:
    """server_cpu_s_per_1k_inferences, server_gib_s_per_1k_inferences (each with _lo/_hi) and
    server_rss_mean_mb over the counted repetitions `counted` (rows of RunData.cells)."""
    cores = cores_of(host)
    cpu, gib, rss = [], [], []
    for r in counted.iter_rows(named=True):
        per_s = (r["ok_rate"] or 0.0) * (count or 0)
        if per_s <= 0:
            continue
        if r.get("server_cpu_mean_pct") is not None and cores:
            cpu.append(r["server_cpu_mean_pct"] / 100 * cores / per_s * 1000)
        mean_mb = rss_mean_mb(run_dir, CellKey.of(r))
        if mean_mb is not None:
            rss.append(mean_mb)
            gib.append(mean_mb / 1024 / per_s * 1000)
    return {
        **interval("server_cpu_s_per_1k_inferences", cpu),
        **interval("server_gib_s_per_1k_inferences", gib),
        "server_rss_mean_mb": sum(rss) / len(rss) if rss else None,
    }


def rss_mean_mb(run_dir: Path, key: CellKey) -> float | None:
    """The server's mean resident memory (MB) over the cell's measured phase, None without samples."""
    try:
        samples = pl.read_parquet(key.telemetry_path(run_dir), hive_partitioning=False)
    except (OSError, pl.exceptions.PolarsError):
        return None  # missing or unreadable: kit.results.usage already lists an unreadable one
    if "rss_bytes" not in samples.columns:
        return None
    server = pl.col("role") == "server" if "role" in samples.columns else pl.col("host") != "client"
    measured = pl.col("phase") == "measure" if "phase" in samples.columns else pl.lit(True)
    mean = samples.filter(server & measured)["rss_bytes"].cast(pl.Float64).mean()
    return float(mean) / MB if isinstance(mean, int | float) else None


def cores_of(host: Mapping[str, Any]) -> float | None:
    """The server host's cores: `cpus` from the inventory, else `cores` from its facts."""
    for name in ("cpus", "cores"):
        try:
            value = float(host.get(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if value > 0:
            return value
    return None


def interval(name: str, values: Sequence[float]) -> dict[str, Any]:
    """{name: mean, name_lo, name_hi}: the 95 % Student t interval (None below two values)."""
    mean, lo, hi = stats.mean_ci(list(values))
    return {name: mean, f"{name}_lo": lo, f"{name}_hi": hi}
