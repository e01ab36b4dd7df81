"""Per group, a (framework, scenario, payload, rate) without its repetition: the mean of its counted
repetitions with a 95 % Student t interval (`across_reps`), and the pooled latency distributions of
its counted repetitions that the plots draw (`latency_profiles`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from kit.results.aggregate import GROUP, NS_PER_MS
from kit.results.stats import t_critical

#: Figures averaged across repetitions by default (those present in the frame are used).
ACROSS = [
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "mean_ms",
    "max_ms",
    "achieved_rate",
    "ok_rate",
    "error_rate",
    "server_cpu_mean_pct",
    "server_rss_max_mb",
    "server_gpu_util_mean_pct",
    "server_gpu_mem_max_mb",
    "client_cpu_mean_pct",
]


def across_reps(cells: pl.DataFrame, metrics: Sequence[str] = ACROSS) -> pl.DataFrame:
    """Per GROUP: `reps` (every repetition with rows), `reps_counted` (those that count: the column
    `counted`, else `valid`), and for each metric its mean over the counted ones with a 95 % interval
    `<m>_lo`..`<m>_hi` (Student t; missing below two values). A metric's n is its non-null count, so
    a repetition without telemetry narrows only the telemetry figures' n."""
    use = [m for m in metrics if m in cells.columns]
    counted = pl.col("counted") if "counted" in cells.columns else pl.col("valid")
    frame = cells.with_columns(counted.fill_null(False).alias("_counted"))
    aggs: list[pl.Expr] = [
        pl.len().cast(pl.Int64).alias("reps"),
        pl.col("_counted").sum().cast(pl.Int64).alias("reps_counted"),
    ]
    for m in use:
        x = pl.col(m).cast(pl.Float64).filter(pl.col("_counted"))
        aggs += [x.mean().alias(m), x.std(ddof=1).alias(f"_{m}_sd"), x.count().alias(f"_{m}_n")]
    out = frame.group_by(GROUP).agg(aggs)
    # A count column's max is an int, or None when there are no groups (polars types it as any value).
    biggest = max([int(cast(int | None, out[f"_{m}_n"].max()) or 0) for m in use] + [0])
    t_of = {n: t_critical(n - 1) for n in range(2, biggest + 1)}
    bounds: list[pl.Expr] = []
    for m in use:
        n = pl.col(f"_{m}_n")
        half = (
            n.replace_strict(t_of, default=None, return_dtype=pl.Float64)
            * pl.col(f"_{m}_sd")
            / n.cast(pl.Float64).sqrt()
        )
        bounds += [(pl.col(m) - half).alias(f"{m}_lo"), (pl.col(m) + half).alias(f"{m}_hi")]
    columns = [*GROUP, "reps", "reps_counted"] + [c for m in use for c in (m, f"{m}_lo", f"{m}_hi")]
    return out.with_columns(bounds).select(columns).sort(GROUP)


#: Probabilities at which a CDF is drawn: fine in the body, finer in the tail where servers differ.
CDF_PROBS = np.unique(
    np.concatenate([np.linspace(0.0, 0.99, 397), np.linspace(0.99, 0.999, 46), np.linspace(0.999, 1.0, 21)])
)


def latency_profiles(groups: dict[tuple[object, ...], list[Path]]) -> list[dict[str, object]]:
    """Per group (GROUP values -> the raw files of its counted repetitions, pooled): the latency CDF at
    CDF_PROBS and box-plot figures in ms. The box is p25..p75 with the median; the whiskers, as in
    Tukey's (matplotlib's and the study's) box plot, reach the furthest request within 1.5 IQR of the
    box; points beyond are counted, not drawn. One group's latencies are in memory at a time."""
    out: list[dict[str, object]] = []
    for key, paths in groups.items():
        lat = (
            pl.concat(
                [
                    pl.scan_parquet(p, glob=False, hive_partitioning=False).select("phase", "latency_ns")
                    for p in paths
                ]
            )
            .filter(pl.col("phase") == "measure")
            .select(pl.col("latency_ns").cast(pl.Float64) / NS_PER_MS)
            .collect()
            .to_series()
            .sort()
            .to_numpy()
        )
        if lat.size == 0:
            continue
        q1, med, q3 = np.quantile(lat, [0.25, 0.5, 0.75])
        lo_fence, hi_fence = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        inside = lat[(lat >= lo_fence) & (lat <= hi_fence)]
        out.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "requests": int(lat.size),
                "cdf_ms": np.quantile(lat, CDF_PROBS).tolist(),
                "cdf_p": CDF_PROBS.tolist(),
                "q1": float(q1),
                "med": float(med),
                "q3": float(q3),
                "whislo": float(inside.min()),
                "whishi": float(inside.max()),
                "mean": float(lat.mean()),
                "beyond_whiskers": int(lat.size - inside.size),
            }
        )
    return out
