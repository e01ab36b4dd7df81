"""PNG plots, drawn with matplotlib's object API on an Agg canvas: no display, no pyplot global
state, no network, so a report builds the same on a headless host and on a laptop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from kit.results.aggregate import CELL
from kit.results.store import rate_label


def latency_cdf(rows: pl.LazyFrame, out: Path) -> Path:
    """One latency CDF line per cell (measured phase), on a log axis: the tail is where servers differ."""
    fig = Figure(figsize=(9, 5.5))
    ax = fig.subplots()
    for key, lat_ms in _measured_latencies(rows):
        y = np.arange(1, lat_ms.size + 1) / lat_ms.size
        ax.step(lat_ms, y, where="post", label=_label(key))
    ax.set_xscale("log")
    ax.set_xlabel("latency from the scheduled send (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title("Latency CDF per cell (open loop, warm-up excluded)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no measured rows", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, format="png")
    return out


def _measured_latencies(rows: pl.LazyFrame) -> list[tuple[tuple[object, ...], np.ndarray]]:
    """Sorted positive latencies in ms per cell; only the columns the plot needs leave the parquet."""
    measured = (
        rows.filter((pl.col("phase") == "measure") & (pl.col("latency_ns") > 0))
        .select([*CELL, "latency_ns"])
        .sort([*CELL, "latency_ns"])
        .collect()
    )
    return [
        (key, group["latency_ns"].to_numpy() / 1e6)
        for key, group in measured.group_by(CELL, maintain_order=True)
    ]


def _label(key: tuple[object, ...]) -> str:
    framework, scenario, payload, rate, rep = key
    return f"{framework}/{scenario} {payload} @{rate_label(float(rate))}/s rep{rep}"
