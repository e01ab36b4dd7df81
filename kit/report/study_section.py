"""The report's first section for a study run: "The answer: cheapest at the SLO".

Per scenario and payload, one table ranking the frameworks by dollars per million inferences at their
capacity under the p99 SLO, with what that rests on beside it (the capacity's bracket, latency at a
rate every framework met, overhead over the model's own time, cold start, memory, CPU per inference),
and one sentence that states the SLO, the common rate and how it was chosen. A framework the study
has no figures for is a row reading `not measured`, with the reason its cells recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from kit.report.document import Block, Heading, Image, Para, Table
from kit.report.study_plots import plot_name
from kit.results.study_plan import Common

TITLE = "The answer: cheapest at the SLO"
METHOD = (
    "Per framework, scenario and payload the study finds the **capacity**: the highest offered rate "
    "(requests per second) whose p99 latency met the SLO in the rate sweep and in each confirmation "
    "repetition at that rate (3 in the study profile), judged by the tail rule: requests over the SLO "
    "(failures count as over) so few that p99 <= SLO holds with 95 % confidence, which needs at least "
    "299 requests. [low, high) is the bracket the true capacity lies in: "
    "low met, high (the lowest rate that missed) did not; with no high the SLO held at every rate judged "
    "(the rate cap, or a client that limited the next probe), and "
    "the capacity is a lower bound. **$ per 1M inferences** = the server host's price per hour / "
    "(capacity × 3600) × 10^6 / instances per request; its range is the cost at high .. at low. "
    "The frameworks of a scenario are then measured at one **common rate** (repetitions: the sentence "
    "above each table): "
    "latency there is the mean over the counted repetitions [95 % Student t interval] (n: the fewest "
    "requests any repetition's percentiles rest on; a p99 from fewer than 299 is flagged †). "
    "**Overhead** = served p50 at the common rate − the model's p50 in process − the network round "
    "trip (per request). **CPU-s / 1k inferences** = server CPU share × its cores / inferences served "
    "per second × 1000, and **GiB-s / 1k inferences** the same with mean resident memory: both carry "
    "over to other hardware and prices, and both count the repetitions whose client only lagged (it "
    "sent its whole schedule: the server got the whole load), which latency does not. Memory MB: "
    "resident memory after the model loaded, else the "
    "mean at the common rate."
)
CLAIMS_EVIDENCE = (
    "evidence (p50 ms per request at the common rate, mean [95 % CI]; capacity brackets in req/s)"
)
HEADER = [
    "rank",
    "framework",
    "$ per 1M inferences [range]",
    "capacity (req/s) [bracket]",
    "overhead (ms per request)",
    "p50 at the common rate (ms per request) [95 % CI] (n)",
    "cold start (s)",
    "memory (MB)",
    "CPU-s / 1k inferences",
    "GiB-s / 1k inferences",
    "note",
]
RIGHT = [True, False, True, True, True, True, True, True, True, True, False]


def blocks(
    answer: pl.DataFrame, commons: Mapping[tuple[str, str], Common], images: Sequence[Path] = ()
) -> list[Block]:
    """The section: its method, then per scenario and payload the sentence, the ranking table and
    its plot of p99 against offered rate (kit.report.study_plots), when `images` holds it."""
    plots = {p.name: p for p in images}
    out: list[Block] = [Heading(TITLE), Para(METHOD)]
    if answer.height == 0:
        return [*out, Para("The study recorded no capacity for any framework.")]
    for (scenario, payload), part in answer.group_by(["scenario", "payload"], maintain_order=True):
        rows = part.to_dicts()
        out += [
            Heading(f"{scenario}, {payload} payload", 3),
            Para(sentence(rows, commons.get((str(scenario), str(payload))))),
            ranking_table(rows),
        ]
        plot = plots.get(plot_name(str(scenario), str(payload)))
        if plot is not None:
            out.append(Image(plot, f"{scenario} {payload}: p99 against offered rate, SLO and capacity"))
    return out


def sentence(rows: list[dict[str, Any]], common: Common | None) -> str:
    """The SLO, the common rate and how it was chosen, and who was left out of it and why."""
    slos = sorted({r["slo_p99_ms"] for r in rows if r["slo_p99_ms"] is not None})
    slo = " / ".join(f"{s:g}" for s in slos) or "?"
    first = [r for r in rows if r["rank"] == 1]
    text = f"SLO: p99 ≤ {slo} ms per request."
    if first:
        text += (
            f" Cheapest at the SLO: **{first[0]['framework']}**, "
            f"{money(first[0], 'usd_per_1m_inferences')} per 1M inferences."
        )
    if common is None:
        return text + " No common rate was recorded for this scenario and payload."
    text += f" Common rate: {common.sentence()}"
    if common.rate is not None and common.reps:
        text += f" ({len(common.reps)} repetitions per framework)"
    text += "."
    if common.excluded:
        text += " Not measured at the common rate: " + "; ".join(
            f"{fw}: {why}" for fw, why in sorted(common.excluded.items())
        )
        text += "."
    return text


def ranking_table(rows: list[dict[str, Any]]) -> Table:
    body = []
    for r in rows:
        if not r["measured"]:
            body.append(["-", r["framework"], "**not measured**", *["-"] * 7, r["note"] or ""])
            continue
        body.append(
            [
                str(r["rank"]) if r["rank"] is not None else "-",
                r["framework"],
                cost_text(r),
                capacity_text(r),
                ci(r, "overhead_ms_per_request", 2),
                latency_text(r),
                ci(r, "cold_start_s", 1),
                memory_text(r),
                ci(r, "server_cpu_s_per_1k_inferences", 2),
                ci(r, "server_gib_s_per_1k_inferences", 2),
                note_text(r),
            ]
        )
    return Table(HEADER, RIGHT, body)


def note_text(r: Mapping[str, Any]) -> str:
    """The rank's caveat and the row's notes, without repeating what the capacity column says."""
    why = r["capacity_why"] or ""
    notes = [n for note in (r["rank_note"], r["note"]) if note for n in note.split("; ")]
    # An exclusion whose reason is the missing capacity already shown beside it says only that.
    shown = [n.removesuffix(f": {why}") if why and n.endswith(why) else n for n in notes if n != why]
    return "; ".join(dict.fromkeys(shown))


def money(r: Mapping[str, Any], name: str) -> str:
    value = r.get(name)
    if not _finite(value):
        return "-"
    text = f"${value:.4f}"
    return f"{text} (estimate)" if r.get("price_kind") == "estimate" else text


def cost_text(r: Mapping[str, Any]) -> str:
    if not _finite(r["usd_per_1m_inferences"]):
        return "-"
    point = money(r, "usd_per_1m_inferences")
    if r["capacity_lower_bound"]:
        return f"≤ {point} (capacity a lower bound)"
    lo, hi = r["usd_per_1m_inferences_lo"], r["usd_per_1m_inferences_hi"]
    return f"{point} [{lo:.4f}, {hi:.4f}]" if _finite(lo) and _finite(hi) else point


def capacity_text(r: Mapping[str, Any]) -> str:
    rate, high = r.get("capacity_req_per_s"), r.get("capacity_high_req_per_s")
    if rate is None:
        return f"none: {r['capacity_why']}" if r["capacity_why"] else "none"
    if high is None:
        return f"≥ {rate:g} (no rate judged missed: a lower bound)"
    low = r.get("capacity_low_req_per_s")
    text = f"{rate:g} [{low if low is not None else rate:g}, {high:g})"
    return text if r["capacity_outcome"] != "unconfirmed" else f"{text}, {high:g} failed its confirmation"


def latency_text(r: Mapping[str, Any]) -> str:
    text = ci(r, "p50_ms_per_request", 2)
    if text == "-":
        return text
    n = r["requests_per_percentile_min"]
    flag = " †" if r["p99_from_too_few_requests"] else ""
    return f"{text} (n {n}){flag}" if n is not None else text


def memory_text(r: Mapping[str, Any]) -> str:
    if _finite(r["rss_after_load_mb"]):
        return f"{r['rss_after_load_mb']:.0f} after load"
    if _finite(r["server_rss_mean_mb"]):
        return f"{r['server_rss_mean_mb']:.0f} at the common rate"
    return "not measured"


def ci(r: Mapping[str, Any], name: str, digits: int) -> str:
    mean, lo, hi = r.get(name), r.get(f"{name}_lo"), r.get(f"{name}_hi")
    if not _finite(mean):
        return "not measured" if name in ("overhead_ms_per_request", "cold_start_s") else "-"
    text = f"{mean:.{digits}f}"
    return f"{text} [{lo:.{digits}f}, {hi:.{digits}f}]" if _finite(lo) and _finite(hi) else text


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
