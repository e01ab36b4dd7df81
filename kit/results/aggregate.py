"""Per-cell summaries of raw rows, with lazy Polars so that millions of rows stay cheap.

A cell is one (framework, scenario, payload, rate, rep): one raw file. Only `phase == "measure"` rows
are counted; warm-up rows stay in the raw files but never reach a summary.

Definitions (all times in ms):
- requests: measured rows, i.e. requests sent in the window, whatever their answer.
- ok: HTTP 2xx. errors: everything else, transport failures (code 0) and a missing code included.
- latency (min, p25, p50, p75, p90, p99, max, mean): `latency_ns` = done - intended, over every
  measured row, failures included: a timed-out request kept its user waiting, and dropping it would
  flatter exactly the server that stalls. Errors are counted beside, in `errors` and `error_rate`.
- service_p50: `service_ns` = done - sent, the server's share without the client's own lag.
- send_lag_p99: sent - intended, how late the client itself was.
- achieved_rate: requests per second of the measured window, where the window spans the first to
  the last intended send plus one inter-arrival gap (1 / rate):
  `requests / ((max(intended_ns) - min(intended_ns)) / 1e9 + 1 / rate)`. A perfect constant-rate
  cell of n requests thus achieves exactly `rate`; under Poisson arrivals it is the draw's own rate.
- valid: false when the client, not the server, shaped the cell: it sent under 99 % of its
  schedule's rate, or its send lag could have moved the latency figures (kit.results.validity
  states the rules and why). `invalid_reason` says which; `rate_short` whether it was the rate
  (the client offered less than the load), not only the lag.

Quantiles interpolate linearly between order statistics (Polars' "linear", numpy's default), so a
small cell gives the figures numpy or a spreadsheet would.

`summarize` gives the compact row each cell's manifest entry keeps; `cell_stats` the full one the
report uses (the engine that sent it, p95, p99.9, service p99, send-lag p50/max, goodput `ok_rate` =
2xx replies per second of the same window). `run_cell_stats` aggregates a whole run a batch of files
at a time, so that memory follows the batch, not the run (10 million rows: see
benchmarks/aggregate.py); `across_reps` gives each (framework, scenario, payload, rate) the mean of
its counted repetitions and a 95 % Student t interval (kit.results.stats); `latency_profiles` the
pooled distributions the plots draw.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import polars as pl

from kit.results import validity
from kit.results.schema import RAW_SCHEMA, empty_raw
from kit.results.store import RawFile

CELL = ["framework", "scenario", "payload", "rate", "rep"]
#: A cell without its repetition: what repetitions are averaged over.
GROUP = ["framework", "scenario", "payload", "rate"]
NS_PER_MS = 1e6
NS_PER_S = 1e9
LATENCY_QUANTILES = {"p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90, "p99": 0.99}
#: Only in cell_stats: the compact summary's columns are pinned by the manifests already written.
EXTRA_QUANTILES = {"p95": 0.95, "p999": 0.999}
#: Rows aggregated per Polars query: bounds memory (about 400 bytes a row at peak) whatever the run's size.
BATCH_ROWS = 1_000_000
#: Columns the aggregation reads; the others never leave the parquet files.
NEEDED = [
    "framework",
    "scenario",
    "payload",
    "rate",
    "rep",
    "phase",
    "seq",
    "intended_ns",
    "sent_ns",
    "latency_ns",
    "service_ns",
    "code",
    "engine",
]


def summarize(lf: pl.LazyFrame) -> pl.DataFrame:
    """One row per cell over its measured phase, sorted by cell; see the module doc for definitions."""
    return _stats(lf, full=False).select(_COLUMNS).sort(CELL).collect()


def cell_stats(lf: pl.LazyFrame) -> pl.DataFrame:
    """`summarize` plus p95, p99.9, service p99, send-lag p50 and max, and goodput, in CELL_STATS order."""
    return _stats(lf, full=True).select(CELL_STATS).sort(CELL).collect()


def _stats(lf: pl.LazyFrame, *, full: bool) -> pl.LazyFrame:
    window = pl.col("_span_s") + 1.0 / pl.col("rate")
    return (
        lf.filter(pl.col("phase") == "measure")
        .group_by(CELL)
        .agg(
            _counts()
            + _latencies()
            + (_extras() if full else [])
            + [_span_s().alias("_span_s")]
            + validity.aggregations()
        )
        .with_columns(
            (pl.col("errors") / pl.col("requests")).alias("error_rate"),
            (pl.col("requests") / window).alias("achieved_rate"),
            (pl.col("ok") / window).alias("ok_rate"),
        )
        .with_columns(validity.verdict())
    )


def run_cell_stats(files: Sequence[RawFile], batch_rows: int = BATCH_ROWS) -> tuple[pl.DataFrame, list[str]]:
    """cell_stats over a run's raw files, a batch at a time, and a line for each file that broke mid-read
    (a footer that opened over damaged pages): its cell is left out, the others are kept."""
    frames: list[pl.DataFrame] = []
    problems: list[str] = []
    for batch in _batches(files, batch_rows):
        try:
            frames.append(cell_stats(scan(batch)))
        except pl.exceptions.PolarsError:
            for one in batch:
                try:
                    frames.append(cell_stats(scan([one])))
                except pl.exceptions.PolarsError as exc:
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    problems.append(f"raw file {one.path} is damaged ({first}): its cell is left out")
    empty = cell_stats(empty_raw().lazy())
    return (pl.concat([empty, *frames]).sort(CELL) if frames else empty), problems


def scan(files: Iterable[RawFile]) -> pl.LazyFrame:
    """The needed columns of these files, each cast to the contract: a file an older writer gave an
    Int64 `code` still concatenates with the others."""
    return pl.concat(
        [
            pl.scan_parquet(f.path, glob=False, hive_partitioning=False).select(
                pl.col(c).cast(RAW_SCHEMA[c]) for c in NEEDED
            )
            for f in files
        ],
        how="vertical",
    )


def _batches(files: Sequence[RawFile], limit: int) -> Iterator[list[RawFile]]:
    batch: list[RawFile] = []
    rows = 0
    for f in files:
        if batch and rows + f.rows > limit:
            yield batch
            batch, rows = [], 0
        batch.append(f)
        rows += f.rows
    if batch:
        yield batch


def _counts() -> list[pl.Expr]:
    ok = pl.col("code").is_between(200, 299).fill_null(False)
    return [
        pl.len().cast(pl.Int64).alias("requests"),
        ok.sum().cast(pl.Int64).alias("ok"),
        (pl.len() - ok.sum()).cast(pl.Int64).alias("errors"),
    ]


def _latencies() -> list[pl.Expr]:
    lat = pl.col("latency_ns")
    lag = pl.col("sent_ns") - pl.col("intended_ns")
    return [
        _ms(lat.min()).alias("min_ms"),
        *(_ms(lat.quantile(q, "linear")).alias(f"{name}_ms") for name, q in LATENCY_QUANTILES.items()),
        _ms(lat.max()).alias("max_ms"),
        _ms(lat.mean()).alias("mean_ms"),
        _ms(pl.col("service_ns").quantile(0.50, "linear")).alias("service_p50_ms"),
        _ms(lag.quantile(0.99, "linear")).alias("send_lag_p99_ms"),
    ]


def _extras() -> list[pl.Expr]:
    lat = pl.col("latency_ns")
    lag = pl.col("sent_ns") - pl.col("intended_ns")
    return [
        # Which engine sent the cell: vegeta's latencies count from the actual send (kit.load.vegeta).
        pl.col("engine").first().alias("engine"),
        *(_ms(lat.quantile(q, "linear")).alias(f"{name}_ms") for name, q in EXTRA_QUANTILES.items()),
        _ms(pl.col("service_ns").quantile(0.99, "linear")).alias("service_p99_ms"),
        _ms(lag.quantile(0.50, "linear")).alias("send_lag_p50_ms"),
        _ms(lag.max()).alias("send_lag_max_ms"),
    ]


def _span_s() -> pl.Expr:
    return (pl.col("intended_ns").max() - pl.col("intended_ns").min()) / NS_PER_S


def _ms(expr: pl.Expr) -> pl.Expr:
    return expr / NS_PER_MS


#: Output columns, in order: the golden files pin them.
_COLUMNS = [
    *CELL,
    "requests",
    "ok",
    "errors",
    "min_ms",
    *(f"{name}_ms" for name in LATENCY_QUANTILES),
    "max_ms",
    "mean_ms",
    "service_p50_ms",
    "send_lag_p99_ms",
    "achieved_rate",
    "error_rate",
    "valid",
    "invalid_reason",
    "rate_short",
]

#: cell_stats' columns, in order: the compact summary's, with the extra figures beside their kin.
CELL_STATS = [
    *CELL,
    "engine",
    "requests",
    "ok",
    "errors",
    "min_ms",
    "p25_ms",
    "p50_ms",
    "p75_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "mean_ms",
    "service_p50_ms",
    "service_p99_ms",
    "send_lag_p50_ms",
    "send_lag_p99_ms",
    "send_lag_max_ms",
    "achieved_rate",
    "ok_rate",
    "error_rate",
    "valid",
    "invalid_reason",
    "rate_short",
]


def is_finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
