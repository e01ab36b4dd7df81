"""When a cell's figures are the server's: the client gates and the overload rule, on stored rows.

A cell is `invalid` when the client, not the server, shaped its figures. Two questions decide it,
each asked against what the client was told to do, never against a nominal figure that the
schedule itself does not meet:

1. **Did the client send what was scheduled, when it was scheduled?** Every kit row carries its
   scheduled send time (`intended_ns`) and its place in the schedule (`seq`), so the rows themselves
   say what the schedule held between the first and the last measured request. The client's rate,
   its requests over the window from the first scheduled send to the last *actual* one (plus one
   mean gap, 1 / rate), must be at least 99 % of the schedule's own rate over its own window. Under
   Poisson arrivals the number of arrivals in a window is itself random (at 200 req/s for 60 s one
   draw in seven holds under 99 % of rate x duration), so the nominal rate would judge the draw;
   the schedule's rate judges the client: a request never sent (a gap in `seq`) or a client that fell
   behind (its last send after the schedule's end stretches the window) lowers it, the draw does not. vegeta
   rows carry no schedule (`intended = sent`) and vegeta paces only at a constant rate, whose
   schedule is the nominal one: its rows are judged against `rate`. Requests cut off at the very
   end (never sent, no row) are invisible in rows; the engine's own account counts them
   (`not_sent`, kit.load.protocol.verdict).

2. **Did the client's lateness move the latency figures?** Latency counts from the scheduled send,
   so every millisecond the client sent late is a millisecond added to that request's latency. A
   lag is harmless when it is small against the latency it is added to, so a figure counts as moved
   when the lag could have moved it by more than 1 ms *and* by more than 5 % of its value (1 ms: the
   engine's own ceiling on one core, benchmarks/engine.py; 5 %: well inside the run-to-run spread of
   a repetition). Two checks:
   a. the send lag at p99 must be at most max(1 ms, 5 % of the server's median time, service p50):
      when all but 1 % of the sends were that punctual, no figure from the median up moved by more.
      A p99 needs sends above it to mean anything: with 100 sends or fewer the interpolated p99 is
      the worst send itself, and one scheduling hiccup of the client's host would decide the cell.
      There the second-worst send is judged instead, and the worst one by check b;
   b. the lag's share of the p99 figure itself, latency p99 (from the schedule) minus service p99
      (from the actual send), must be at most max(1 ms, 5 % of the service p99).
   Where the lag is comparable to the latency (2,000 req/s against a 2 ms server) the allowance is
   the 1 ms floor, as strict as ever; a 3 ms hiccup in 50 sends to a 40 ms server moves nothing.

A cell whose measured requests failed beyond MAX_ERROR_RATE (the 1 % the SLO sweep allows) is
`overloaded`: its latencies are mostly timeouts and errors, not service, and it never counts.

kit/load/engine.py applies the same two gates to its own account (it imports nothing from the kit
and carries its own copy); tests/unit/test_results_validity.py holds both to the same answers.
"""

from __future__ import annotations

import polars as pl

#: The lag allowance's floor (ms) and its share of the latency it is added to.
MAX_SEND_LAG_MS = 1.0
LAG_SHARE = 0.05
#: Above this many sends a p99 leaves at least one send above it; at or below, the second worst is judged.
P99_SENDS = 100
MIN_ACHIEVED_SHARE = 0.99
#: The share of failed measured requests above which a cell is `overloaded` (and a sweep probe misses).
MAX_ERROR_RATE = 0.01
NS_PER_MS = 1e6
NS_PER_S = 1e9


def aggregations() -> list[pl.Expr]:
    """Per-cell figures the gates need, over the measured rows (private columns, prefixed `_`)."""
    lag = pl.col("sent_ns") - pl.col("intended_ns")
    n = pl.len()
    judged = (
        pl.when(n > P99_SENDS).then(lag.quantile(0.99, "linear")).otherwise(lag.sort().get((n - 2).clip(0)))
    )
    moved = pl.col("latency_ns").quantile(0.99, "linear") - pl.col("service_ns").quantile(0.99, "linear")
    first = pl.col("intended_ns").min()
    return [
        (judged / NS_PER_MS).alias("_lag_judged_ms"),
        (moved / NS_PER_MS).alias("_lag_moved_p99_ms"),
        (pl.col("service_ns").quantile(0.99, "linear") / NS_PER_MS).alias("_service_p99_ms"),
        (pl.col("seq").max() - pl.col("seq").min() + 1).alias("_scheduled"),
        ((pl.col("intended_ns").max() - first) / NS_PER_S).alias("_scheduled_span_s"),
        ((pl.col("sent_ns").max() - first) / NS_PER_S).alias("_sent_span_s"),
        (pl.col("engine").first() == "vegeta").fill_null(False).alias("_vegeta"),
    ]


def verdict() -> list[pl.Expr]:
    """`valid` and `invalid_reason` from the aggregations and the cell's requests, rate and service p50."""
    gap = 1.0 / pl.col("rate")
    # The client's window runs to the schedule's end (its last send plus one mean gap), or to the last
    # actual send if that came later still: as engine.PhaseStats.achieved_rate, on the same clock.
    window = pl.max_horizontal(pl.col("_scheduled_span_s") + gap, pl.col("_sent_span_s"))
    sent_rate = pl.col("requests") / window
    scheduled_rate = (
        pl.when(pl.col("_vegeta"))
        .then(pl.col("rate"))
        .otherwise(pl.col("_scheduled") / (pl.col("_scheduled_span_s") + gap))
    )
    late_limit = _limit(pl.col("service_p50_ms"))
    moved_limit = _limit(pl.col("_service_p99_ms"))
    lagged = (pl.col("_lag_judged_ms") > late_limit).fill_null(False)
    moved = (pl.col("_lag_moved_p99_ms") > moved_limit).fill_null(False)
    short = (sent_rate < MIN_ACHIEVED_SHARE * scheduled_rate).fill_null(False)
    parts = [
        pl.when(lagged).then(_lag_text(_limit_text(late_limit, "median"))),
        # Check b only speaks when check a did not: both say that the lag was too long.
        pl.when(moved & ~lagged).then(
            pl.format(
                "the send lag added {} ms to the latency p99 (> {})",
                pl.col("_lag_moved_p99_ms").round(3),
                _limit_text(moved_limit, "p99"),
            )
        ),
        pl.when(short).then(
            pl.format(
                "achieved rate {} req/s < 99% of the {} req/s scheduled",
                sent_rate.round(1),
                scheduled_rate.round(1),
            )
        ),
    ]
    bad = lagged | moved | short
    reason = pl.when(bad).then(
        pl.format(
            "{}: the client was the bottleneck", pl.concat_str(parts, separator=" and ", ignore_nulls=True)
        )
    )
    # `rate_short` apart: a client that only lagged still offered the whole load (its lag is in the
    # latency, so an SLO met despite it is met: kit/bench/protocol.py judge); one that fell short did not.
    return [
        (~bad).alias("valid"),
        reason.otherwise(pl.lit("")).alias("invalid_reason"),
        short.alias("rate_short"),
    ]


def _limit(figure_ms: pl.Expr) -> pl.Expr:
    return pl.max_horizontal(pl.lit(MAX_SEND_LAG_MS), LAG_SHARE * figure_ms.fill_null(0.0))


def _limit_text(limit: pl.Expr, what: str) -> pl.Expr:
    share = f"{100 * LAG_SHARE:g} %"
    return (
        pl.when(limit > MAX_SEND_LAG_MS)
        .then(
            pl.format(
                f"{{}} ms, {share} of the server's {what} {{}} ms",
                limit.round(3),
                (limit / LAG_SHARE).round(3),
            )
        )
        .otherwise(pl.lit(f"{MAX_SEND_LAG_MS:g} ms"))
    )


def _lag_text(limit: pl.Expr) -> pl.Expr:
    n, lag = pl.col("requests"), pl.col("_lag_judged_ms").round(3)
    return (
        pl.when(n > P99_SENDS)
        .then(pl.format("send-lag p99 {} ms > {}", lag, limit))
        .when(n > 1)
        .then(pl.format("send-lag {} ms (second-worst of {} sends) > {}", lag, n, limit))
        .otherwise(pl.format("send-lag {} ms (the only send) > {}", lag, limit))
    )


def overload_reason(requests: int, errors: int, first_error: str = "") -> str:
    """Why a cell is `overloaded` (the reason beside that status), or "" when at most MAX_ERROR_RATE of
    its measured requests failed."""
    if requests <= 0 or errors <= requests * MAX_ERROR_RATE:
        return ""
    first = f" (first: {first_error})" if first_error else ""
    return (
        f"{errors}/{requests} measured requests failed ({100 * errors / requests:.1f} %, over "
        f"the {100 * MAX_ERROR_RATE:g} % a counted cell may lose){first}"
    )
