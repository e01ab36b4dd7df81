"""The sampler's JSON lines, turned into telemetry rows stored beside the raw rows.

Layout: results/<run>/telemetry/<framework>/<scenario>/<payload>/<rate>/rep<k>.parquet, one file per
cell holding the samples of every host that was sampled (the server's framework, the client), with
columns host, framework, role (server|client), phase, ts_ns, cpu_pct, rss_bytes, gpu_util_pct,
gpu_mem_bytes. A sample's phase is the bench phase its timestamp falls in (warmup, measure), or
`idle` before, between and after them (connection warming, drain). The sampler's own files are
kept beside the parquet file as captured.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from kit.results import store

SCHEMA: dict[str, pl.DataType] = {
    "host": pl.String(),
    "framework": pl.String(),
    "role": pl.String(),  # server | client
    "phase": pl.String(),  # warmup | measure | idle
    "ts_ns": pl.Int64(),  # epoch ns, the host's clock
    "cpu_pct": pl.Float64(),  # share of the host's CPUs, 0-100
    "rss_bytes": pl.Int64(),
    "gpu_util_pct": pl.Float64(),  # null without a GPU
    "gpu_mem_bytes": pl.Int64(),
}
ROLES = ("server", "client")
IDLE = "idle"

#: (phase name, start epoch ns, end epoch ns)
Window = tuple[str, int, int]


def read_samples(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the start line, the samples) of a sampler's output. A line cut off mid-write (the sampler
    was killed) is not a JSON object, and is dropped; every line before it was written whole."""
    header: dict[str, Any] = {}
    samples = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(item, dict):
            continue
        if item.get("event") == "start":
            header = item
        elif "ts_ns" in item:
            samples.append(item)
    return header, samples


def windows_from_plan(t0_ns: int | None, phases: Sequence[tuple[str, float]]) -> list[Window]:
    """The phases' windows, back to back from t0: (name, duration in seconds) in plan order."""
    if t0_ns is None:
        return []
    out, start = [], t0_ns
    for name, seconds in phases:
        end = start + round(seconds * 1e9)
        out.append((name, start, end))
        start = end
    return out


def label(ts_ns: int, windows: Sequence[Window]) -> str:
    """A sample covers the interval that ends at its timestamp: it belongs to the window it ends in."""
    for name, start, end in windows:
        if start < ts_ns <= end:
            return name
    return IDLE


def frame(
    samples: list[dict[str, Any]], *, host: str, framework: str, role: str, windows: Sequence[Window]
) -> pl.DataFrame:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    rows = [
        {
            "host": host,
            "framework": framework,
            "role": role,
            "phase": label(int(s["ts_ns"]), windows),
            "ts_ns": int(s["ts_ns"]),
            "cpu_pct": s.get("cpu_pct"),
            "rss_bytes": s.get("rss_bytes"),
            "gpu_util_pct": s.get("gpu_util_pct"),
            "gpu_mem_bytes": s.get("gpu_mem_bytes"),
        }
        for s in samples
    ]
    return pl.DataFrame(rows, schema=SCHEMA)


def write(df: pl.DataFrame, path: Path) -> None:
    """Written once, atomically, like the raw rows (kit.results.store)."""
    buf = io.BytesIO()
    df.select(list(SCHEMA)).sort("role", "ts_ns").write_parquet(buf)
    store.write_sidecar(path, buf.getvalue())


def summarize(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per role, over the measured phase: mean and max CPU %, max resident memory, GPU figures."""
    out: dict[str, dict[str, Any]] = {}
    measured = df.filter(pl.col("phase") == "measure")
    for role in ROLES:
        part = measured.filter(pl.col("role") == role)
        if part.height == 0:
            continue
        row = part.select(
            pl.len().alias("samples"),
            pl.col("cpu_pct").mean().alias("cpu_mean_pct"),
            pl.col("cpu_pct").max().alias("cpu_max_pct"),
            pl.col("rss_bytes").max().alias("rss_max_bytes"),
            pl.col("gpu_util_pct").mean().alias("gpu_util_mean_pct"),
            pl.col("gpu_mem_bytes").max().alias("gpu_mem_max_bytes"),
        ).row(0, named=True)
        out[role] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
    return out


def windows_from_rows(rows: pl.DataFrame) -> list[Window]:
    """Phase windows from raw rows (vegeta's, whose schedule is not known ahead): first to last send."""
    if rows.height == 0:
        return []
    spans = rows.group_by("phase").agg(
        pl.col("intended_ns").min().alias("a"), pl.col("intended_ns").max().alias("b")
    )
    return sorted(((r["phase"], int(r["a"]) - 1, int(r["b"])) for r in spans.to_dicts()), key=lambda w: w[1])


def cell_frame(
    fetched: Sequence[Any], framework: str, windows: Sequence[Window]
) -> tuple[pl.DataFrame, list[str]]:
    """Every host's samples of one cell in one frame, with what looked wrong as warnings.

    `fetched` holds objects with host, role and text (kit.telemetry.remote_sampler.Fetched)."""
    frames, warnings = [], []
    for f in fetched:
        header, samples = read_samples(f.text)
        if not samples:
            warnings.append(f"the {f.role} sampler on {f.host} recorded no sample")
            continue
        if f.role == "server" and not any(s.get("procs") for s in samples):
            warnings.append(
                f"the {f.role} sampler on {f.host} saw no process of {header.get('scope', framework)}"
            )
        frames.append(frame(samples, host=f.host, framework=framework, role=f.role, windows=windows))
    df = pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMA)
    return df, warnings
