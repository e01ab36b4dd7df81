"""The report's tables from the results frames: pure functions, so golden tests can pin their text.

A missing figure shows as "-", never as 0. Figures averaged over repetitions show as
`mean [low, high]`, the 95 % Student t interval (kit.results.stats); a bare mean had fewer than two
counted repetitions, so no interval could be given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from kit.report.document import Table
from kit.results import tail
from kit.results.cells import rate_label

Format = Callable[[Any], str]


def fixed(digits: int) -> Format:
    return lambda v: f"{v:.{digits}f}"


def percent(v: Any) -> str:
    return f"{100 * v:.2f}"


def yes_no(v: Any) -> str:
    return "yes" if v else "no"


def rate_text(v: Any) -> str:
    return rate_label(float(v))


#: vegeta times a request from its actual send (kit.load.vegeta): a stalled client or server hides there.
VEGETA_LATENCY = "vegeta: latency from actual send (not coordinated-omission safe)"


def latency_engine(v: Any) -> str:
    return VEGETA_LATENCY if v == "vegeta" else str(v)


def load_engine(v: Any) -> str:
    return "vegeta (send lag unknown: shown as 0)" if v == "vegeta" else str(v)


#: (column, header, format, right-aligned)
Column = tuple[str, str, Format, bool]
KEY: list[Column] = [
    ("framework", "framework", str, False),
    ("scenario", "scenario", str, False),
    ("payload", "payload", str, False),
    ("rate", "rate (req/s)", rate_text, True),
]
REP: Column = ("rep", "rep", str, True)

CELL_LATENCY: list[Column] = [
    *KEY,
    REP,
    ("engine", "engine", latency_engine, False),
    ("requests", "requests", str, True),
    ("min_ms", "min", fixed(2), True),
    ("p25_ms", "p25", fixed(2), True),
    ("p50_ms", "p50", fixed(2), True),
    ("p75_ms", "p75", fixed(2), True),
    ("p90_ms", "p90", fixed(2), True),
    ("p95_ms", "p95", fixed(2), True),
    ("p99_ms", "p99", fixed(2), True),
    ("p999_ms", "p99.9", fixed(2), True),
    ("max_ms", "max", fixed(2), True),
    ("mean_ms", "mean", fixed(2), True),
    ("status", "status", str, False),
]

CELL_LOAD: list[Column] = [
    *KEY,
    REP,
    ("engine", "engine", load_engine, False),
    ("achieved_rate", "achieved (req/s)", fixed(1), True),
    ("ok_rate", "2xx (req/s)", fixed(1), True),
    ("errors", "errors", str, True),
    ("error_rate", "error %", percent, True),
    ("send_lag_p50_ms", "send-lag p50 (ms)", fixed(3), True),
    ("send_lag_p99_ms", "send-lag p99 (ms)", fixed(3), True),
    ("send_lag_max_ms", "send-lag max (ms)", fixed(3), True),
    ("service_p50_ms", "service p50 (ms)", fixed(2), True),
    ("service_p99_ms", "service p99 (ms)", fixed(2), True),
    ("valid", "valid", yes_no, False),
    ("status", "status", str, False),
    ("counted", "counted", yes_no, False),
]

#: (figure, header, digits, scale) of the across-repetition tables.
Figure = tuple[str, str, int, float]
GROUP_LATENCY: list[Figure] = [
    ("p50_ms", "p50 (ms)", 2, 1.0),
    ("p90_ms", "p90 (ms)", 2, 1.0),
    ("p99_ms", "p99 (ms)", 2, 1.0),
    ("p999_ms", "p99.9 (ms)", 2, 1.0),
    ("mean_ms", "mean (ms)", 2, 1.0),
    ("achieved_rate", "achieved (req/s)", 1, 1.0),
    ("error_rate", "error %", 2, 100.0),
]
GROUP_USAGE: list[Figure] = [
    ("server_cpu_mean_pct", "server CPU %", 1, 1.0),
    ("server_rss_max_mb", "server RSS max (MB)", 0, 1.0),
    ("server_gpu_util_mean_pct", "server GPU %", 1, 1.0),
    ("server_gpu_mem_max_mb", "server GPU mem (MB)", 0, 1.0),
    ("client_cpu_mean_pct", "client CPU %", 1, 1.0),
]
USAGE_COLUMNS = [name for name, *_ in GROUP_USAGE]


#: A tail percentile from fewer requests than this rests on too few to show it (kit/results/tail.py
#: least_count: 299 for p99, 2,995 for p99.9): the table marks it with TOO_FEW.
TAILS = {"p99_ms": 0.99, "p999_ms": 0.999}
TOO_FEW = " †"


def cell_latency_table(cells: pl.DataFrame) -> Table:
    """Per cell and repetition, the latency distribution in ms (measured phase, failures included),
    the engine that measured it and the cell's status: an overloaded cell's figures are mostly
    timeouts, and they say so beside them. A p99 or p99.9 from fewer requests than its least count
    is marked †: with 50 requests the "p99" is the maximum's neighbour, not a p99."""
    table = _columns_table(CELL_LATENCY, cells.iter_rows(named=True))
    where = {name: i for i, (name, *_) in enumerate(CELL_LATENCY)}
    for row, cell in zip(table.rows, cells.iter_rows(named=True), strict=True):
        for name, q in TAILS.items():
            if row[where[name]] != "-" and int(cell.get("requests") or 0) < tail.least_count(q):
                row[where[name]] += TOO_FEW
    return table


def cell_load_table(cells: pl.DataFrame) -> Table:
    """Per cell and repetition, what the load achieved and whether the client kept up."""
    return _columns_table(CELL_LOAD, cells.iter_rows(named=True))


def group_latency_table(groups: pl.DataFrame) -> Table:
    return _figures_table(groups, GROUP_LATENCY)


def has_usage(groups: pl.DataFrame) -> bool:
    present = [c for c in USAGE_COLUMNS if c in groups.columns]
    return bool(present) and groups.select(pl.any_horizontal(pl.col(present).is_not_null()).any()).item()


def group_usage_table(groups: pl.DataFrame) -> Table:
    return _figures_table(groups, GROUP_USAGE)


def cost_table(cost: pl.DataFrame) -> Table:
    """Per request and per inference side by side, each named so; every figure priced from an
    estimate (a local host) says so in its own cell, so that no figure can be quoted without it."""
    header = [
        "framework",
        "scenario",
        "payload",
        "instances per request",
        "server",
        "priced as",
        "USD/hour",
        "sustainable rate (req/s)",
        "rate from",
        "USD per 1M requests",
        "USD per 1M inferences",
        "note",
    ]
    right = [False, False, False, True, False, False, True, True, False, True, True, False]
    rows = []
    for r in cost.iter_rows(named=True):
        usd = _estimated(fixed(4)) if r["price_kind"] == "estimate" else fixed(4)
        rows.append(
            [
                r["framework"],
                r["scenario"],
                r["payload"],
                _text(str, r["instances_per_request"]),
                _text(str, r["instance_type"]),
                r["price_basis"] or "-",
                _text(usd, r["usd_per_hour"]),
                _text(fixed(1), r["sustainable_rate"]),
                r["rate_source"],
                _text(usd, r["usd_per_million_requests"]),
                _text(usd, r["usd_per_million_inferences"]),
                r["note"] or "",
            ]
        )
    return Table(header, right, rows)


def _estimated(fmt: Format) -> Format:
    return lambda v: f"{fmt(v)} (estimate)"


EVIDENCE = "evidence (p50 ms, mean [95 % CI])"


def claims_table(rows: Sequence[Mapping[str, str]], *, overall: bool, evidence: str = EVIDENCE) -> Table:
    """The `overall` verdict of each claim per scenario, or (overall=False) every pair behind them."""
    keep = [r for r in rows if (r["comparison"] == "overall") == overall]
    if overall:
        return Table(
            ["claim", "scenario", "verdict", "why"],
            [False] * 4,
            [[r["claim"], r["scenario"], f"**{r['verdict']}**", r["evidence"]] for r in keep],
        )
    return Table(
        ["claim", "scenario", "comparison", "verdict", evidence],
        [False] * 5,
        [[r["claim"], r["scenario"], r["comparison"], r["verdict"], r["evidence"]] for r in keep],
    )


def cell_status_lines(cells: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per manifest cell that did not end `ok`, with its reason: no cell disappears silently."""
    return [
        f"{c['framework']}/{c['scenario']} {c['payload']} @ {rate_label(float(c['rate']))} req/s "
        f"rep {c['rep']}: **{c['status']}**: {c.get('reason') or 'no reason recorded'}"
        for c in cells
        if c.get("status") != "ok"
    ]


def with_ci(mean: Any, lo: Any, hi: Any, digits: int, scale: float = 1.0) -> str:
    if not _finite(mean):
        return "-"
    text = f"{mean * scale:.{digits}f}"
    if _finite(lo) and _finite(hi):
        text += f" [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"
    return text


def _columns_table(columns: list[Column], rows: Iterable[Mapping[str, Any]]) -> Table:
    return Table(
        [title for _, title, _, _ in columns],
        [right for *_, right in columns],
        [[_text(fmt, row.get(key)) for key, _, fmt, _ in columns] for row in rows],
    )


def _figures_table(groups: pl.DataFrame, figures: list[Figure]) -> Table:
    header = [title for _, title, _, _ in KEY] + ["reps counted"] + [title for _, title, _, _ in figures]
    right = [r for *_, r in KEY] + [True] + [True] * len(figures)
    rows = []
    for g in groups.iter_rows(named=True):
        key = [fmt(g[name]) for name, _, fmt, _ in KEY]
        counted = f"{g['reps_counted']}/{g['reps']}"
        if g.get("reps_overloaded"):
            counted += f" ({g['reps_overloaded']} overloaded)"
        figs = [
            with_ci(g.get(name), g.get(f"{name}_lo"), g.get(f"{name}_hi"), digits, scale)
            for name, _, digits, scale in figures
        ]
        rows.append([*key, counted, *figs])
    return Table(header, right, rows)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(fmt: Format, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt(value)
