"""The study's picture: per scenario and payload, every cell's p99 against the rate it was offered,
for every framework, with the SLO and each framework's capacity drawn on it.

Every cell of the run at that (framework, scenario, payload) is a point: sweep probes, confirmations
and the common-rate repetitions alike, so a reader sees each capacity's evidence and not only its
result. The marker says how the cell ended (only `ok` cells count; overloaded ones are timeouts,
invalid ones the client's doing); the colour is the framework. Capacity is a vertical line at the
found rate with its bracket [low, high) shaded; the common rate a grey dotted line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, ScalarFormatter

from kit.ids import FRAMEWORKS, SCENARIOS
from kit.report.plots import PAYLOAD_ORDER, _ordered, _save
from kit.results.analysis import RunData
from kit.results.study_plan import Capacity, Common, capacities, common_rates

#: status -> (marker, hollow): how a cell ended, by its marker shape.
MARKERS: dict[str, tuple[str, bool]] = {
    "ok": ("o", False),
    "overloaded": ("X", False),
    "invalid": ("^", True),
    "failed": ("s", True),
    "partial": ("D", True),
}
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def slo_sweeps(data: RunData, out_dir: Path) -> list[Path]:
    """One PNG per scenario and payload the study measured: p99_<scenario>_<payload>_slo.png."""
    caps, commons = capacities(data.manifest), common_rates(data.manifest)
    places = {(sc, p) for _, sc, p in caps}
    written = []
    for sc in _ordered(sorted({sc for sc, _ in places}), SCENARIOS):
        for payload in _ordered(sorted({p for s, p in places if s == sc}), PAYLOAD_ORDER):
            here = {fw: c for (fw, s, p), c in caps.items() if (s, p) == (sc, payload)}
            cells = data.cells.filter(
                (pl.col("scenario") == sc) & (pl.col("payload") == payload) & pl.col("p99_ms").is_not_null()
            )
            written.append(_one(sc, payload, here, commons.get((sc, payload)), cells, out_dir))
    return written


def _one(
    scenario: str,
    payload: str,
    caps: Mapping[str, Capacity],
    common: Common | None,
    cells: pl.DataFrame,
    out_dir: Path,
) -> Path:
    fig = Figure(figsize=(11, 5.2), layout="constrained")  # room for the legend beside the axes
    ax = fig.subplots()
    frameworks = _ordered(sorted(set(caps) | set(cells["framework"].to_list())), FRAMEWORKS)
    handles: list[Any] = []
    for i, fw in enumerate(frameworks):
        colour = COLOURS[i % len(COLOURS)]
        mine = cells.filter(pl.col("framework") == fw)
        for status, (marker, hollow) in MARKERS.items():
            pts = mine.filter(pl.col("status").fill_null("ok") == status)
            if pts.height:
                face = "none" if hollow else colour
                ax.scatter(
                    pts["rate"], pts["p99_ms"], marker=marker, s=42, facecolors=face, edgecolors=colour
                )
        cap = caps.get(fw)
        handles.append(Line2D([], [], color=colour, lw=2, label=f"{fw}: {_capacity_label(cap)}"))
        if cap is not None and cap.rate is not None:
            ax.axvline(cap.rate, color=colour, ls="--", lw=1.2)
            ax.axvspan(
                cap.rate, cap.high if cap.high is not None else cap.rate * 1.02, color=colour, alpha=0.12
            )
    slo = next((c.slo_p99_ms for c in caps.values() if c.slo_p99_ms is not None), None)
    if slo is not None:
        ax.axhline(slo, color="crimson", lw=1.5)
        ax.annotate(
            f"SLO: p99 ≤ {slo:g} ms",
            xy=(0.01, slo),
            xycoords=("axes fraction", "data"),
            xytext=(0, 4),
            textcoords="offset points",
            color="crimson",
            fontsize=8,
        )
    if common is not None and common.rate is not None:
        ax.axvline(common.rate, color="grey", ls=":", lw=1.5)
        handles.append(Line2D([], [], color="grey", ls=":", label=f"common rate {common.rate:g} req/s"))
    handles += [
        Line2D([], [], ls="", marker=m, color="black", markerfacecolor="none" if hollow else "black", label=s)
        for s, (m, hollow) in MARKERS.items()
        if (cells["status"].fill_null("ok") == s).any()
    ]
    ax.set_yscale("log")
    rates = cells["rate"]
    if rates.len() and float(rates.max()) / float(rates.min()) > 8:  # type: ignore[arg-type]
        # A sweep doubles its rate: a log axis spaces its probes evenly. Ticks at 1-2-5 steps, plain.
        ax.set_xscale("log")
        low, high = float(rates.min()), float(rates.max())  # type: ignore[arg-type]
        steps = [m * 10**e for e in range(-2, 7) for m in (1, 2, 5)]
        ax.set_xticks([t for t in steps if low / 1.5 <= t <= high * 1.5])
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("offered rate (requests per second; every cell: sweep probes, confirmations, common rate)")
    ax.set_ylabel("p99 latency per request (ms, log scale)")
    ax.set_title(
        f"{scenario}, {payload} payload: p99 against offered rate; capacity: dashed line, bracket shaded",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    fig.legend(handles=handles, fontsize=7, loc="outside right upper")
    return _save(fig, out_dir / plot_name(scenario, payload))


def plot_name(scenario: str, payload: str) -> str:
    return f"p99_{scenario}_{payload}_slo.png"


def is_study_plot(path: Path) -> bool:
    return path.name.startswith("p99_") and path.name.endswith("_slo.png")


def _capacity_label(cap: Capacity | None) -> str:
    if cap is None:
        return "not in the study"
    if cap.rate is None:
        # The legend sits beside the axes: the reason in full is in the table above the plot.
        short = {
            "none": f"no capacity at p99 ≤ {cap.slo_p99_ms or 0:g} ms"
            + (f" (lowest tried {cap.lowest_rate_tried:g} req/s)" if cap.lowest_rate_tried else ""),
            "skipped": "not run here (see the table)",
            "failed": "its deploy failed (see the table)",
            "cut": "sweep cut short (see the table)",
            "unconfirmed": f"unconfirmed: its confirmation at {cap.high or 0:g} req/s failed",
        }
        return short.get(cap.outcome) or textwrap.shorten(cap.summary(), 60, placeholder=" …")
    if cap.high is None:
        return f"capacity ≥ {cap.rate:g} req/s (a lower bound)"
    low = cap.low if cap.low is not None else cap.rate
    return f"capacity {cap.rate:g} req/s [{low:g}, {cap.high:g})"


__all__ = ["is_study_plot", "plot_name", "slo_sweeps"]
