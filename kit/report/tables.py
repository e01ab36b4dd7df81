"""Markdown from summaries and manifest cells: pure functions, so golden tests can pin the exact text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

from kit.results.store import rate_label

Format = Callable[[Any], str]


def _fixed(digits: int) -> Format:
    return lambda v: f"{v:.{digits}f}"


def _yes_no(v: Any) -> str:
    return "yes" if v else "no"


#: (summary column, header, formatter, right-aligned): numbers right, names left, as people read them.
COLUMNS: list[tuple[str, str, Format, bool]] = [
    ("framework", "framework", str, False),
    ("scenario", "scenario", str, False),
    ("payload", "payload", str, False),
    ("rate", "rate (req/s)", rate_label, True),
    ("rep", "rep", str, True),
    ("requests", "requests", str, True),
    ("p50_ms", "p50 (ms)", _fixed(2), True),
    ("p90_ms", "p90 (ms)", _fixed(2), True),
    ("p99_ms", "p99 (ms)", _fixed(2), True),
    ("max_ms", "max (ms)", _fixed(2), True),
    ("mean_ms", "mean (ms)", _fixed(2), True),
    ("achieved_rate", "achieved (req/s)", _fixed(1), True),
    ("errors", "errors", str, True),
    ("valid", "valid", _yes_no, False),
]


def summary_table(summary: pl.DataFrame) -> str:
    """One markdown row per cell of `aggregate.summarize`'s output; a missing value shows as "-"."""
    lines = [
        _row(title for _, title, _, _ in COLUMNS),
        "|" + "|".join("---:" if right else "---" for *_, right in COLUMNS) + "|",
    ]
    for row in summary.iter_rows(named=True):
        lines.append(_row(_text(fmt, row.get(key)) for key, _, fmt, _ in COLUMNS))
    return "\n".join(lines) + "\n"


def cell_status_lines(cells: Iterable[Mapping[str, Any]]) -> str:
    """A bullet per cell that did not end `ok`, with its reason: no cell disappears silently."""
    lines = [
        f"- {c['framework']}/{c['scenario']} {c['payload']} @ {rate_label(float(c['rate']))} req/s "
        f"rep {c['rep']}: **{c['status']}**: {c.get('reason') or 'no reason recorded'}"
        for c in cells
        if c.get("status") != "ok"
    ]
    return "".join(line + "\n" for line in lines)


def _text(fmt: Format, value: Any) -> str:
    return "-" if value is None else fmt(value)


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
