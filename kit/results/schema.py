"""The raw-results contract of DESIGN.md section 4: one row per request, one parquet file per cell."""

from __future__ import annotations

import polars as pl

SCHEMA_VERSION = 1

#: Column order is part of the contract; readers select by name, writers emit exactly this.
RAW_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "framework": pl.String(),
    "scenario": pl.String(),
    "payload": pl.String(),
    "rate": pl.Float64(),
    "rep": pl.Int32(),
    "phase": pl.String(),  # warmup | measure
    "seq": pl.Int64(),
    "intended_ns": pl.Int64(),  # scheduled send, epoch ns
    "sent_ns": pl.Int64(),
    "done_ns": pl.Int64(),
    "latency_ns": pl.Int64(),  # done - intended: the user's view
    "service_ns": pl.Int64(),  # done - sent
    "code": pl.Int32(),  # HTTP status; 0 = transport failure
    "bytes_out": pl.Int64(),
    "bytes_in": pl.Int64(),
    "error": pl.String(),
    "engine": pl.String(),  # kit | vegeta
}

PHASES = ("warmup", "measure")
ENGINES = ("kit", "vegeta")


def empty_raw() -> pl.DataFrame:
    return pl.DataFrame(schema=RAW_SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Cast and order columns to the raw contract; missing columns are an error, not a default."""
    missing = [c for c in RAW_SCHEMA if c not in df.columns]
    if missing:
        raise ValueError(f"raw rows lack columns {missing}")
    return df.select([pl.col(name).cast(dtype) for name, dtype in RAW_SCHEMA.items()])
