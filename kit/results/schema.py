"""The raw-results contract of docs/design.md section 4: one row per request, one parquet file per cell.

Every file the kit writes for a run carries the schema version it follows (the manifest in a field,
raw parquet files in their key-value metadata). A reader refuses a version it does not know rather
than misreading it, and names the kit version that wrote the file: that version reads it. Raw files
written before the metadata existed carry none and are version 1, the only layout they ever had.
"""

from __future__ import annotations

import polars as pl

from kit import __version__
from kit.errors import KitError

SCHEMA_VERSION = 1

#: Parquet key-value metadata keys of a raw file.
META_SCHEMA_VERSION = "serving_kit.schema_version"
META_KIT_VERSION = "serving_kit.kit_version"

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


def raw_metadata(kit_version: str = __version__) -> dict[str, str]:
    """The key-value metadata every raw parquet file is written with."""
    return {META_SCHEMA_VERSION: str(SCHEMA_VERSION), META_KIT_VERSION: kit_version}


def check_version(where: object, version: object, written_by: object, kit_version: str = __version__) -> None:
    """Refuse a file of a schema version this kit does not read, naming the kit that can read it."""
    # JSON's `true` equals 1 in Python; a boolean is no version.
    if not isinstance(version, bool) and str(version) == str(SCHEMA_VERSION):
        return
    raise KitError(
        f"{where} has schema_version {version}; this kit (version {kit_version}) reads {SCHEMA_VERSION}",
        f"Use the kit version that wrote it ({written_by or 'unknown'}, per the file)",
    )


def raw_file_version(metadata: dict[str, str]) -> tuple[str, str | None]:
    """(schema version, kit version that wrote it) of a raw file from its parquet metadata."""
    return metadata.get(META_SCHEMA_VERSION, str(SCHEMA_VERSION)), metadata.get(META_KIT_VERSION)
