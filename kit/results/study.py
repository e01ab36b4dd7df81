"""The study's answer: per scenario and payload, which framework serves at the p99 SLO for the least
money, and what it costs in time, CPU and memory at a rate every framework of the scenario meets.

One row per (scenario, payload, framework), from the run folder alone (manifest.json, raw/,
telemetry/). Every figure names its unit (per request, per inference) in its column:

- **$ per 1M inferences at capacity** = USD per hour of the server host / (capacity x 3600) x 1e6
  / instances per request, priced as kit.results.cost prices a server (a local host: a labelled
  estimate). Its range comes from the capacity's bracket: the cost at `high` (the lowest rate that
  missed) .. the cost at `low` (the capacity). With no `high` (no rate judged missed) the
  capacity is a lower bound and the cost an upper bound: the range has no low end.
- **Latency at the common rate** (p50/p90/p99 of each request, ms): mean and 95 % Student t interval
  over the counted common repetitions, with the fewest measured requests any repetition's
  percentiles rest on; a p99 from fewer than kit.results.tail.least_count() requests is flagged.
- **Server CPU-seconds per 1,000 inferences** = mean CPU share x the host's cores / inferences per
  second x 1000, and **memory GiB-seconds per 1,000 inferences** = mean resident memory (GiB) /
  inferences per second x 1000, inferences per second being the repetition's 2xx rate x instances
  per request; per repetition, then mean and interval. They travel across hardware where dollars do
  not: a host twice as fast halves them, and any price list can be laid over them.
- **Overhead** over the floor (when the study measured one): the served p50 at the common rate minus
  the model's own p50 in process and the network's round trip; the interval is the served p50's,
  shifted. **Cold start** and idle **memory** come from the footprint, when measured.
- **Rank** per (scenario, payload) by $ per 1M inferences at capacity; a framework with no capacity
  (or no price) has no rank, sorts last and says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from kit.ids import FRAMEWORKS, SCENARIOS
from kit.results import cost, estimate, study_usage, tail, validity
from kit.results.analysis import RunData, not_measured_reason
from kit.results.price_table import PriceTable
from kit.results.study_plan import Capacity, Common, capacities, study_of
from kit.results.study_plan import common_rates as _common_rates
from kit.results.study_usage import interval

PAYLOADS = ("small", "medium", "large")
_F, _S, _I, _B = pl.Float64(), pl.String(), pl.Int64(), pl.Boolean()


def _ci(name: str) -> dict[str, pl.DataType]:
    return {name: _F, f"{name}_lo": _F, f"{name}_hi": _F}


ANSWER_SCHEMA: dict[str, pl.DataType] = {
    "scenario": _S,
    "payload": _S,
    "framework": _S,
    "measured": _B,  # False: the framework has no study record here (e.g. it could not run)
    "rank": _I,
    "rank_note": _S,
    "slo_p99_ms": _F,
    "capacity_req_per_s": _F,
    "capacity_low_req_per_s": _F,
    "capacity_high_req_per_s": _F,
    "capacity_lower_bound": _B,
    "capacity_confirmed": _B,
    "capacity_outcome": _S,
    "capacity_why": _S,
    "lowest_rate_tried_req_per_s": _F,
    "instances_per_request": _I,
    "usd_per_hour": _F,
    "price_kind": _S,
    "price_basis": _S,
    **_ci("usd_per_1m_inferences"),  # at capacity; lo..hi: at the bracket's high..low
    "usd_per_1m_requests": _F,
    "common_rate_req_per_s": _F,
    "common_reps": _I,
    "common_reps_counted": _I,
    "common_reps_for_usage": _I,
    **_ci("p50_ms_per_request"),
    **_ci("p90_ms_per_request"),
    **_ci("p99_ms_per_request"),
    "requests_per_percentile_min": _I,
    "p99_from_too_few_requests": _B,
    **_ci("server_cpu_s_per_1k_inferences"),
    **_ci("server_gib_s_per_1k_inferences"),
    "server_rss_mean_mb": _F,
    **_ci("overhead_ms_per_request"),
    "inprocess_p50_ms_per_request": _F,
    "rtt_ms": _F,
    **_ci("cold_start_s"),
    "rss_after_load_mb": _F,
    "rss_idle_mb": _F,
    "idle_cpu_pct": _F,
    "note": _S,
}


def has_study(data: RunData) -> bool:
    return study_of(data.manifest) is not None


def common_rates(data: RunData) -> dict[tuple[str, str], Common]:
    """(scenario, payload) -> the common rate the study measured it at, from the run's manifest."""
    return _common_rates(data.manifest)


def answer(data: RunData, prices: PriceTable) -> pl.DataFrame:
    """The answer table (ANSWER_SCHEMA), ordered by scenario, payload, then rank (unranked last)."""
    man = data.manifest
    if man is None or study_of(man) is None:
        return pl.DataFrame(schema=ANSWER_SCHEMA)
    caps, commons = capacities(man), _common_rates(man)
    rate_of_family = estimate.family_rate(prices)
    rows: list[dict[str, Any]] = []
    for sc, payload in _places(caps, commons):
        part = []
        for fw in _frameworks(data, caps, sc, payload):
            cap = caps.get((fw, sc, payload))
            if cap is None:
                why = f"not measured: {not_measured_reason(data, fw, sc)}"
                part.append(
                    {"scenario": sc, "payload": payload, "framework": fw, "measured": False, "note": why}
                )
                continue
            row = _priced(man, cap, prices, rate_of_family)
            common = commons.get((sc, payload))
            if common is not None and fw in common.excluded:
                excluded = f"not at the common rate: {common.excluded[fw]}"
                row["note"] = "; ".join(n for n in (row["note"], excluded) if n)
                row["common_rate_req_per_s"] = common.rate
            else:
                row |= _at_common(data, cap, common, row["instances_per_request"])
                if row.get("common_reps") and not row.get("common_reps_counted"):
                    uncounted = (
                        f"no repetition at the common rate counted for latency (the client was the "
                        f"bottleneck or the cell did not end ok); CPU and memory from "
                        f"{row.get('common_reps_for_usage') or 0} whose server got the whole load"
                    )
                    row["note"] = "; ".join(n for n in (row["note"], uncounted) if n)
            row |= _floor_and_footprint(cap, row)
            wrong = wrong_outputs(man, cap)
            row["note"] = "; ".join(n for n in (row["note"], wrong) if n)
            part.append(row)
        rows += _ranked(part)
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


def wrong_outputs(man: Mapping[str, Any], cap: Capacity) -> str:
    """The flag of a framework whose sampled replies under load differed from the model's, or ""."""
    wrong = [
        c
        for c in man.get("cells") or []
        if (c["framework"], c["scenario"], c["payload"]) == (cap.framework, cap.scenario, cap.payload)
        and ((c.get("summary") or {}).get("outputs") or {}).get("mismatched")
    ]
    if not wrong:
        return ""
    first = wrong[0]["summary"]["outputs"]["first_mismatch"]
    return f"WRONG OUTPUTS under load in {len(wrong)} cell(s) (first at {wrong[0]['rate']:g} req/s: {first})"


def _places(
    caps: Mapping[tuple[str, str, str], Capacity], commons: Mapping[tuple[str, str], Common]
) -> list[tuple[str, str]]:
    seen = {(sc, p) for _, sc, p in caps} | set(commons)
    return sorted(seen, key=lambda k: (_rank(k[0], SCENARIOS), _rank(k[1], PAYLOADS)))


def _frameworks(
    data: RunData, caps: Mapping[tuple[str, str, str], Capacity], sc: str, payload: str
) -> list[str]:
    """The study's frameworks here, and every other one the run set out to measure on the scenario
    (its pairs and cells): those appear as not measured, with the reason their cells recorded."""
    found = {fw for fw, s, p in caps if (s, p) == (sc, payload)}
    man: Mapping[str, Any] = data.manifest or {}
    found |= {str(p[0]) for p in man.get("pairs") or [] if len(p) == 2 and p[1] == sc}
    found |= {str(c["framework"]) for c in man.get("cells") or [] if c.get("scenario") == sc}
    return sorted(found, key=lambda fw: _rank(fw, FRAMEWORKS))


def _priced(
    man: Mapping[str, Any], cap: Capacity, prices: PriceTable, family: estimate.FamilyRate | str
) -> dict[str, Any]:
    host = cost.server_host(man, cap.framework)
    usd, kind, basis, no_price = cost._price(man, host, prices, family)
    count, count_note = cost.instances_per_request(man, cap.scenario, cap.payload)

    def per_million_inferences(rate: float | None) -> float | None:
        if usd is None or not count or not rate:
            return None
        return usd / (rate * cost.SECONDS_PER_HOUR) * 1e6 / count

    at_cap = per_million_inferences(cap.rate)
    notes = [no_price if cap.rate is not None else "", count_note]
    return {
        "scenario": cap.scenario,
        "payload": cap.payload,
        "framework": cap.framework,
        "measured": True,
        "slo_p99_ms": cap.slo_p99_ms,
        "capacity_req_per_s": cap.rate,
        "capacity_low_req_per_s": cap.low,
        "capacity_high_req_per_s": cap.high,
        "capacity_lower_bound": cap.lower_bound,
        "capacity_confirmed": cap.confirmed,
        "capacity_outcome": cap.outcome,
        "capacity_why": cap.summary() or cap.why,
        "lowest_rate_tried_req_per_s": cap.lowest_rate_tried,
        "instances_per_request": count,
        "usd_per_hour": usd,
        "price_kind": kind,
        "price_basis": basis,
        "usd_per_1m_inferences": at_cap,
        # The truth lies in [low, high): the cheapest it can be is at `high`, the dearest at `low`.
        "usd_per_1m_inferences_lo": per_million_inferences(cap.high) if at_cap is not None else None,
        "usd_per_1m_inferences_hi": at_cap,
        "usd_per_1m_requests": at_cap * count if at_cap is not None and count else None,
        "note": "; ".join(n for n in notes if n),
    }


def _at_common(data: RunData, cap: Capacity, common: Common | None, count: int | None) -> dict[str, Any]:
    """Latency, CPU and memory per inference over the counted repetitions at the common rate."""
    if common is None or common.rate is None:
        return {}
    here = (pl.col("framework"), pl.col("scenario"), pl.col("payload"), pl.col("rate"))
    wanted = (cap.framework, cap.scenario, cap.payload, common.rate)
    cells = data.cells.filter(
        *(c == v for c, v in zip(here, wanted, strict=True)), pl.col("rep").is_in(common.reps)
    )
    counted = cells.filter(pl.col("counted"))
    out: dict[str, Any] = {
        "common_rate_req_per_s": common.rate,
        "common_reps": len(common.reps),
        "common_reps_counted": counted.height,
    }
    for q in ("p50", "p90", "p99"):
        out |= interval(f"{q}_ms_per_request", counted[f"{q}_ms"].drop_nulls().to_list())
    if counted.height:
        fewest = int(counted["requests"].min())  # type: ignore[arg-type]
        out["requests_per_percentile_min"] = fewest
        out["p99_from_too_few_requests"] = fewest < tail.least_count()
    # The server's CPU and memory per inference do not depend on when the client sent: a repetition
    # whose client only lagged (it sent its whole schedule, so the server got the whole load) counts
    # for them, though not for latency.
    lagged = (pl.col("status") == "invalid") & ~pl.col("rate_short").fill_null(True)
    loaded = cells.filter(pl.col("counted") | (lagged & (pl.col("error_rate") <= validity.MAX_ERROR_RATE)))
    out["common_reps_for_usage"] = loaded.height
    host = cost.server_host(data.manifest or {}, cap.framework)
    return out | study_usage.per_inference(data.run_dir, loaded, host, count)


def _floor_and_footprint(cap: Capacity, row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    floor, foot = cap.floor, cap.footprint
    inproc, rtt = _number(floor.get("inprocess_p50_ms")), _number(floor.get("rtt_ms"))
    if inproc is not None and rtt is not None and row.get("p50_ms_per_request") is not None:
        shift = inproc + rtt
        out |= {
            "overhead_ms_per_request": row["p50_ms_per_request"] - shift,
            "overhead_ms_per_request_lo": _minus(row.get("p50_ms_per_request_lo"), shift),
            "overhead_ms_per_request_hi": _minus(row.get("p50_ms_per_request_hi"), shift),
        }
    out |= {"inprocess_p50_ms_per_request": inproc, "rtt_ms": rtt}
    starts = [float(s) for s in foot.get("cold_start_s") or [] if _number(s) is not None]
    out |= interval("cold_start_s", starts)
    for name in ("rss_after_load_mb", "rss_idle_mb", "idle_cpu_pct"):
        out[name] = _number(foot.get(name))
    return out


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rank by $ per 1M inferences at capacity; say when a neighbour's cost range overlaps, and why
    the unranked have no rank."""
    priced = sorted(
        (r for r in rows if r.get("usd_per_1m_inferences") is not None),
        key=lambda r: r["usd_per_1m_inferences"],
    )
    for k, r in enumerate(priced, 1):
        r["rank"] = k
        overlaps = [o["framework"] for o in priced if o is not r and _overlap(r, o)]
        r["rank_note"] = f"cost range overlaps {', '.join(overlaps)}'s" if overlaps else ""
    # No rank: measured without a capacity (or a price) first, then those not measured at all.
    rest = sorted(
        (r for r in rows if r.get("usd_per_1m_inferences") is None), key=lambda r: not r["measured"]
    )
    for r in rest:
        if not r.get("measured"):
            r["rank_note"] = r.get("note")
        elif r.get("capacity_req_per_s") is None:
            r["rank_note"] = r.get("capacity_why")
        else:
            r["rank_note"] = r.get("note") or "no price"
    return priced + rest


def _overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def span(r: Mapping[str, Any]) -> tuple[float, float]:
        return r["usd_per_1m_inferences_lo"] or 0.0, r["usd_per_1m_inferences_hi"]

    (a_lo, a_hi), (b_lo, b_hi) = span(a), span(b)
    return a_lo <= b_hi and b_lo <= a_hi


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _minus(value: float | None, shift: float) -> float | None:
    return None if value is None else value - shift


def _rank(value: str, known: Sequence[str]) -> tuple[int, str]:
    return (known.index(value) if value in known else len(known), value)
