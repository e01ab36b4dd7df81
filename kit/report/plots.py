"""PNG plots, drawn with matplotlib's object API on an Agg canvas: no display, no pyplot global
state, no network, so a report builds the same on a headless host and on a laptop.

Each function writes one file and returns its path, or None when the run holds nothing it could
draw (a plot of nothing would only suggest that something was measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from kit.ids import FRAMEWORKS, SCENARIOS
from kit.results.analysis import COUNTED, NOT_COUNTED, OVERLOADED
from kit.results.cells import rate_label

Profile = Mapping[str, Any]  # one entry of kit.results.repetitions.latency_profiles
DPI = 100
PAYLOAD_ORDER = ("small", "medium", "large")


def latency_cdfs(profiles: Sequence[Profile], out_dir: Path) -> list[Path]:
    """Per scenario and payload, one latency CDF per framework and rate, pooled over the counted
    repetitions, on a log axis (the tail is where servers differ)."""
    written = []
    for (scenario, payload), part in _by(profiles, ("scenario", "payload")).items():
        fig = Figure(figsize=(8, 4.8))
        ax = fig.subplots()
        for p in part:
            xs = [x for x in p["cdf_ms"] if x > 0]  # a log axis cannot show a zero latency
            ys = p["cdf_p"][len(p["cdf_ms"]) - len(xs) :]
            ax.plot(xs, ys, label=f"{_who(p)} ({p['requests']} req)", linestyle="-" if _counted(p) else ":")
        ax.set_xscale("log")
        ax.set_xlabel("latency from the scheduled send (ms, log scale)")
        ax.set_ylabel("fraction of requests")
        ax.set_title(f"{scenario}, {payload} payload: latency CDF (counted repetitions pooled)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        written.append(_save(fig, out_dir / f"latency_cdf_{scenario}_{payload}.png"))
    return written


def latency_boxes(profiles: Sequence[Profile], out_dir: Path) -> list[Path]:
    """Per scenario, box plots by framework (one panel per payload), as in the study: box p25..p75,
    line at the median, whiskers to the furthest request within 1.5 IQR, outliers counted in the label."""
    written = []
    for (scenario,), part in _by(profiles, ("scenario",)).items():
        panels = _by(part, ("payload",))
        fig = Figure(figsize=(max(6.0, 4.0 * len(panels)), 4.8))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, ((payload,), boxes) in zip(axes, panels.items(), strict=True):
            stats = [
                {
                    "label": "\n".join([*_who(b).split(" ", 1), f"{b['beyond_whiskers']} out"]),
                    "q1": b["q1"],
                    "med": b["med"],
                    "q3": b["q3"],
                    "whislo": b["whislo"],
                    "whishi": b["whishi"],
                    "mean": b["mean"],
                    "fliers": [],
                }
                for b in boxes
            ]
            ax.bxp(stats, showmeans=True, showfliers=False)
            ax.set_title(f"{payload} payload")
            ax.set_ylabel("latency (ms)")
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(True, axis="y", alpha=0.3)
        fig.suptitle(f"{scenario}: latency by framework (triangle: mean)")
        written.append(_save(fig, out_dir / f"latency_box_{scenario}.png"))
    return written


def throughput_latency(
    groups: pl.DataFrame, out_dir: Path, overloaded: pl.DataFrame | None = None
) -> list[Path]:
    """Per scenario, p99 latency against the achieved rate for every framework and payload measured
    at two rates or more (a sweep, or a list of rates), with the 95 % intervals as error bars.
    `overloaded` (framework, scenario, payload, rate, achieved_rate, p99_ms: means over a group's
    overloaded repetitions, none counted) are drawn as crosses labelled so: where a server broke."""
    keys = ["framework", "scenario", "payload"]
    broke = (
        overloaded
        if overloaded is not None
        else groups.clear().select(*keys, "rate", "achieved_rate", "p99_ms")
    )
    counted = groups.filter(pl.col("reps_counted") > 0)
    rates = pl.concat([counted.select(*keys, "rate"), broke.select(*keys, "rate")])
    several = rates.group_by(keys).agg(pl.len().alias("_n")).filter(pl.col("_n") > 1).select(keys)
    multi = counted.join(several, on=keys).sort([*keys, "rate"])
    broke = broke.join(several, on=keys).sort([*keys, "rate"])
    written = []
    for scenario in _ordered(several["scenario"].unique().to_list(), SCENARIOS):
        fig = Figure(figsize=(8, 4.8))
        ax = fig.subplots()
        part = multi.filter(pl.col("scenario") == scenario)
        colours: dict[tuple[str, str], str] = {}  # where a server broke is drawn in its line's colour
        for (framework, payload), line in part.group_by(["framework", "payload"], maintain_order=True):
            y = line["p99_ms"].to_numpy()
            lo = (line["p99_ms"] - line["p99_ms_lo"]).fill_null(0).to_numpy()
            hi = (line["p99_ms_hi"] - line["p99_ms"]).fill_null(0).to_numpy()
            drawn = ax.errorbar(
                line["achieved_rate"].to_numpy(),
                y,
                yerr=[lo, hi],
                marker="o",
                capsize=3,
                label=f"{framework}, {payload}",
            )
            colours[(str(framework), str(payload))] = to_hex(drawn.lines[0].get_color())
        for (framework, payload), pts in broke.filter(pl.col("scenario") == scenario).group_by(
            ["framework", "payload"], maintain_order=True
        ):
            label = f"{framework}, {payload} (overloaded: not counted)"
            colour = colours.get((str(framework), str(payload))) or ax.plot([], [])[0].get_color()
            ax.scatter(pts["achieved_rate"], pts["p99_ms"], marker="x", s=60, label=label, color=colour)
        ax.set_yscale("log")
        ax.set_xlabel("achieved rate (req/s, mean of counted repetitions)")
        ax.set_ylabel("p99 latency (ms, log scale)")
        ax.set_title(f"{scenario}: throughput against tail latency")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        written.append(_save(fig, out_dir / f"throughput_latency_{scenario}.png"))
    return written


def resources(points: pl.DataFrame, out_dir: Path) -> Path | None:
    """Server CPU and resident memory per framework against the achieved rate (one point per
    scenario, payload and rate), when the run sampled them. `points` carries `counted` (and may carry
    `mark`, kit.results.analysis.RunData.group_marks): a group with no counted repetition is drawn
    hollow and labelled so, an overloaded one as a cross labelled `overloaded`."""
    have = points.filter(
        pl.col("server_cpu_mean_pct").is_not_null() | pl.col("server_rss_max_mb").is_not_null()
    )
    if "mark" not in have.columns:
        have = have.with_columns(
            pl.when(pl.col("counted")).then(pl.lit(COUNTED)).otherwise(pl.lit(NOT_COUNTED)).alias("mark")
        )
    if have.height == 0:
        return None
    rates = have.group_by(["framework", "scenario"]).agg(pl.col("rate").n_unique().alias("_n"))
    if rates["_n"].max() == 1:  # one rate each: points against rate would all sit on one x
        return _resource_bars(have, out_dir)
    fig = Figure(figsize=(11, 4.5))
    cpu, mem = fig.subplots(1, 2)
    markers = dict(zip(SCENARIOS, "osD^", strict=True))
    for framework in _ordered(have["framework"].unique().to_list(), FRAMEWORKS):
        part = have.filter(pl.col("framework") == framework)
        colour = cpu.plot([], [])[0].get_color()
        for scenario in _ordered(part["scenario"].unique().to_list(), SCENARIOS):
            for mark in (COUNTED, OVERLOADED, NOT_COUNTED):
                pts = part.filter((pl.col("scenario") == scenario) & (pl.col("mark") == mark))
                label = f"{framework}, {scenario}" + ("" if mark == COUNTED else f" ({mark})")
                style = {"color": colour, "marker": markers.get(scenario, "x"), "label": label}
                if mark == OVERLOADED:
                    style["marker"] = "x"
                elif mark == NOT_COUNTED:
                    style["facecolors"] = "none"
                    style["edgecolors"] = style.pop("color")
                _scatter(cpu, pts, "server_cpu_mean_pct", style)
                _scatter(mem, pts, "server_rss_max_mb", style)
    cpu.set_ylabel("server CPU, mean over the measured phase (% of its CPUs)")
    mem.set_ylabel("server resident memory, max (MB)")
    for ax in (cpu, mem):
        ax.set_xlabel("achieved rate (req/s)")
        ax.grid(True, alpha=0.3)
    cpu.legend(fontsize=7)
    fig.suptitle(
        "Server resources per framework (means of counted repetitions; hollow: none counted; "
        "cross: overloaded)"
    )
    return _save(fig, out_dir / "resources.png")


#: mark -> bar hatch: a group that did not count is drawn, but never looks like one that did.
HATCHES = {COUNTED: "", OVERLOADED: "xx", NOT_COUNTED: "//"}


def _resource_bars(have: pl.DataFrame, out_dir: Path) -> Path:
    """Grouped bars per scenario and payload, one bar per framework: server CPU % and RSS MB, for a
    run where every framework and scenario was measured at a single rate."""
    places = sorted(
        {(r["scenario"], r["payload"]) for r in have.iter_rows(named=True)},
        key=lambda k: (_rank(k[0], SCENARIOS), _rank(k[1], PAYLOAD_ORDER)),
    )
    frameworks = _ordered(have["framework"].unique().to_list(), FRAMEWORKS)
    width = 0.8 / len(frameworks)
    fig = Figure(figsize=(max(8.0, 1.2 * len(places) * len(frameworks) + 3), 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    legend = []
    for i, fw in enumerate(frameworks):
        colour = axes[0].plot([], [])[0].get_color()
        legend.append(Patch(facecolor=colour, edgecolor="black", label=fw))
        for ax, column in zip(axes, ("server_cpu_mean_pct", "server_rss_max_mb"), strict=True):
            for k, (sc, payload) in enumerate(places):
                row = have.filter(
                    (pl.col("framework") == fw) & (pl.col("scenario") == sc) & (pl.col("payload") == payload)
                )
                if row.height == 0 or row[column][0] is None:
                    continue
                value, mark = float(row[column][0]), str(row["mark"][0])
                x = k - 0.4 + width * (i + 0.5)
                ax.bar(
                    x,
                    value,
                    width,
                    color=colour,
                    hatch=HATCHES.get(mark, ""),
                    edgecolor="black",
                )
                note = f"{value:.0f}" + ("" if mark == COUNTED else f"\n({mark})")
                ax.annotate(
                    f"{note}\n@{rate_label(float(row['rate'][0]))}/s",
                    (x, value),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    for ax, title in zip(
        axes,
        ("server CPU, mean over the measured phase (% of its CPUs)", "server resident memory, max (MB)"),
        strict=True,
    ):
        ax.set_xticks(range(len(places)), [f"{sc}\n{payload}" for sc, payload in places])
        ax.set_ylabel(title, fontsize=8)
        ax.margins(y=0.2)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(handles=legend, fontsize=7)
    fig.suptitle(
        "Server resources per framework, at the one rate each was measured at\n(means of counted "
        "repetitions; hatched //: none counted, xx: overloaded)",
        fontsize=10,
    )
    return _save(fig, out_dir / "resources.png")


def _scatter(ax: Axes, pts: pl.DataFrame, column: str, style: dict[str, Any]) -> None:
    keep = pts.filter(pl.col(column).is_not_null())
    if keep.height:
        ax.scatter(keep["achieved_rate"], keep[column], **style)


def _by(profiles: Sequence[Profile], keys: tuple[str, ...]) -> dict[tuple[Any, ...], list[Profile]]:
    """Profiles grouped by `keys`, groups and members in the kit's own order of ids."""
    out: dict[tuple[Any, ...], list[Profile]] = {}
    for p in sorted(profiles, key=_order):
        out.setdefault(tuple(p[k] for k in keys), []).append(p)
    return out


def _order(p: Profile) -> tuple[Any, ...]:
    return (
        _rank(p["scenario"], SCENARIOS),
        _rank(p["payload"], PAYLOAD_ORDER),
        _rank(p["framework"], FRAMEWORKS),
        p["rate"],
    )


def _rank(value: str, known: Sequence[str]) -> tuple[int, str]:
    return (known.index(value) if value in known else len(known), value)


def _ordered(values: list[str], known: Sequence[str]) -> list[str]:
    return sorted(values, key=lambda v: _rank(v, known))


def _save(fig: Figure, path: Path) -> Path:
    if fig.get_layout_engine() is None:  # a figure laid out by its own engine keeps it
        fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the PNG's metadata: a rebuilt report is byte for byte the same.
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path


def _counted(p: Profile) -> bool:
    return bool(p.get("counted", True))


def _who(p: Profile) -> str:
    """Framework and rate; a group drawn from repetitions that were not counted says so, and says
    `overloaded` when they were (`mark`, kit.results.analysis.RunData.group_marks)."""
    label = f"{p['framework']} @{rate_label(p['rate'])}/s"
    mark = str(p.get("mark") or (COUNTED if _counted(p) else NOT_COUNTED))
    return label if mark == COUNTED else f"{label} ({mark})"
