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
  cell of n requests thus achieves exactly `rate`, and requests the client never sent lower it.
- valid: false when the client, not the server, limited the cell (DESIGN.md section 5): send-lag
  p99 over 1 ms, or achieved rate under 99 % of the target. `invalid_reason` says which.

Quantiles interpolate linearly between order statistics (Polars' "linear", numpy's default), so a
small cell gives the figures numpy or a spreadsheet would.
"""

from __future__ import annotations

import polars as pl

CELL = ["framework", "scenario", "payload", "rate", "rep"]
MAX_SEND_LAG_P99_MS = 1.0
MIN_ACHIEVED_SHARE = 0.99
NS_PER_MS = 1e6
NS_PER_S = 1e9
LATENCY_QUANTILES = {"p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90, "p99": 0.99}


def summarize(lf: pl.LazyFrame) -> pl.DataFrame:
    """One row per cell over its measured phase, sorted by cell; see the module doc for definitions."""
    return (
        lf.filter(pl.col("phase") == "measure")
        .group_by(CELL)
        .agg(_counts() + _latencies() + [_span_s().alias("_span_s")])
        .with_columns(
            (pl.col("errors") / pl.col("requests")).alias("error_rate"),
            (pl.col("requests") / (pl.col("_span_s") + 1.0 / pl.col("rate"))).alias("achieved_rate"),
        )
        .with_columns(_validity())
        .select(_COLUMNS)
        .sort(CELL)
        .collect()
    )


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


def _span_s() -> pl.Expr:
    return (pl.col("intended_ns").max() - pl.col("intended_ns").min()) / NS_PER_S


def _ms(expr: pl.Expr) -> pl.Expr:
    return expr / NS_PER_MS


def _validity() -> list[pl.Expr]:
    lag = pl.col("send_lag_p99_ms")
    achieved = pl.col("achieved_rate")
    slow_client = (lag > MAX_SEND_LAG_P99_MS).fill_null(False)
    short_rate = (achieved < MIN_ACHIEVED_SHARE * pl.col("rate")).fill_null(False)
    lag_text = pl.format("send-lag p99 {} ms > 1 ms", lag.round(3))
    rate_text = pl.format("achieved rate {} req/s < 99% of the target {}", achieved.round(1), pl.col("rate"))
    reason = (
        pl.when(slow_client & short_rate)
        .then(pl.format("{} and {}", lag_text, rate_text))
        .when(slow_client)
        .then(pl.format("{}: the client was the bottleneck", lag_text))
        .when(short_rate)
        .then(rate_text)
        .otherwise(pl.lit(""))
    )
    return [(~(slow_client | short_rate)).alias("valid"), reason.alias("invalid_reason")]


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
]
