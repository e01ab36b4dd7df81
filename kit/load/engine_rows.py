"""The engine's output, turned into rows of the raw-results contract (docs/design.md section 4).

The engine streams rows in completion order and always ends a row with a newline, so a file that
does not end in one, or whose rows lack fields, was cut short (the engine was killed mid-write, or
the copy back from the client host failed). Such a file is refused rather than half-read: Polars
would otherwise fill the missing fields with nulls and the cell would look whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from kit.errors import KitError
from kit.results.schema import conform

ENGINE_COLUMNS = {
    "phase": pl.String,
    "seq": pl.Int64,
    "intended_ns": pl.Int64,
    "sent_ns": pl.Int64,
    "done_ns": pl.Int64,
    "code": pl.Int32,
    "bytes_out": pl.Int64,
    "bytes_in": pl.Int64,
    "error": pl.String,
}
REQUIRED = [name for name in ENGINE_COLUMNS if name != "error"]
CORRUPT_HINT = "Rerun the cell; the file is kept for inspection"


def rows_from_engine_csv(
    path: Path,
    *,
    run_id: str,
    framework: str,
    scenario: str,
    payload: str,
    rate: float,
    rep: int,
    engine: str = "kit",
) -> pl.DataFrame:
    """The engine's CSV as raw rows, sorted by seq (the engine writes them as replies come back)."""
    df = read_engine_csv(Path(path))
    df = df.sort("seq").with_columns(
        *cell_columns(run_id, framework, scenario, payload, rate, rep),
        (pl.col("done_ns") - pl.col("intended_ns")).alias("latency_ns"),
        (pl.col("done_ns") - pl.col("sent_ns")).alias("service_ns"),
        pl.when(pl.col("error") == "").then(None).otherwise(pl.col("error")).alias("error"),
        pl.lit(engine).alias("engine"),
    )
    return conform(df)


def read_engine_csv(path: Path) -> pl.DataFrame:
    """The CSV exactly as the engine wrote it, or a KitError saying why it cannot be trusted."""
    if not path.is_file():
        raise KitError(
            f"the engine's output {path} is missing",
            "The engine did not run or its file was not fetched; see the ssh log",
        )
    _check_complete(path)
    try:
        df = pl.read_csv(path, schema=ENGINE_COLUMNS)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.SchemaError) as exc:
        raise _corrupt(path, str(exc).splitlines()[0]) from None
    short = df.filter(pl.any_horizontal(pl.col(REQUIRED).is_null())).height
    if short:
        raise _corrupt(path, f"{short} row(s) lack fields")
    if df["seq"].n_unique() != df.height:
        raise _corrupt(path, "a seq appears twice")
    return df


def _check_complete(path: Path) -> None:
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8", "replace").strip()
        if header != ",".join(ENGINE_COLUMNS):
            raise _corrupt(path, f"header is {header[:120]!r}")
        fh.seek(0, 2)
        fh.seek(fh.tell() - 1)
        if fh.read(1) != b"\n":
            raise _corrupt(path, "the last row is cut off")


def _corrupt(path: Path, why: str) -> KitError:
    return KitError(f"the engine's output {path} is truncated or corrupt ({why})", CORRUPT_HINT)


def summary_from_stdout(text: str) -> dict[str, Any]:
    """The engine's last JSON line on stdout is its summary; anything printed before it is noise."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                parsed: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                break  # a summary cut off mid-line: the engine died while printing it
            return parsed
    raise KitError(
        "the load engine printed no summary",
        "It probably crashed or was killed; read its stderr in the ssh log",
    )


def cell_columns(
    run_id: str, framework: str, scenario: str, payload: str, rate: float, rep: int
) -> list[pl.Expr]:
    """The raw schema's columns that name the cell: the same on every row of one engine's output."""
    return [
        pl.lit(run_id).alias("run_id"),
        pl.lit(framework).alias("framework"),
        pl.lit(scenario).alias("scenario"),
        pl.lit(payload).alias("payload"),
        pl.lit(float(rate)).alias("rate"),
        pl.lit(rep).alias("rep"),
    ]
