"""Dollars per million requests and per million inferences: the server's hourly price over the
highest sustainable rate.

    usd_per_million_requests   = usd_per_hour / (sustainable_rate * 3600) * 1e6
    usd_per_million_inferences = usd_per_million_requests / instances_per_request

A request of a medium or large payload carries several instances (1 / 10 / 100, image 1 / 4 / 16:
scenarios/README.md), each one inference: per request overstates the cost of an inference that many
times. The counts come from the run's manifest (`payload_instances`, recorded at bench); a run written
before they were recorded takes them from today's scenario registry and its row says so; a payload
with no known count gets no cost per inference, never an assumed 1.

Only the server host is priced: the client host is measuring apparatus, not part of serving. The
sustainable rate of a (framework, scenario, payload) is, in order:
1. the SLO sweep's best rate (the manifest's `sweeps`), when a sweep ran: the highest target rate whose
   every repetition was valid, met the p99 SLO and failed at most 1 % of its requests;
2. otherwise the highest measured rate whose every repetition counted (valid, ok) and whose mean
   error rate is at most 1 %, at the rate it achieved. This is a lower bound of the capacity (the
   server was not pushed to its limit), and the table says so.

Prices come from a pinned, dated table (kit/results/prices/aws-ec2-<date>.json; kit.results.pricing
writes newer ones from the AWS Price List API). An AWS server is priced at its instance type's price;
a type the table lacks has no price, and its cost shows as missing with the reason. A server that is
not a cloud instance (the local provider's LXD hosts) is priced as an *estimate*: the on-demand cost
of its CPUs and memory in the compute-optimised family (kit.results.estimate), labelled so in every
row (`price_kind` = "estimate").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

import polars as pl

from kit.errors import KitError
from kit.results import estimate
from kit.results.price_table import PriceTable

MAX_ERROR_RATE = 0.01
SECONDS_PER_HOUR = 3600

COST_SCHEMA: dict[str, pl.DataType] = {
    "framework": pl.String(),
    "scenario": pl.String(),
    "payload": pl.String(),
    "instances_per_request": pl.Int64(),
    "instance_type": pl.String(),
    "region": pl.String(),
    "usd_per_hour": pl.Float64(),
    "price_kind": pl.String(),  # "instance" (its real price), "estimate" (kit.results.estimate) or null
    "price_basis": pl.String(),  # what the hourly price is the price of
    "sustainable_rate": pl.Float64(),  # requests per second
    "rate_source": pl.String(),
    "usd_per_million_requests": pl.Float64(),
    "usd_per_million_inferences": pl.Float64(),
    "note": pl.String(),
}


def server_host(manifest: Mapping[str, Any], framework: str) -> dict[str, Any]:
    """The facts of the framework's server host in the manifest ({} when the run recorded none)."""
    hosts: dict[str, Any] = manifest.get("hosts") or {}
    for name in (f"srv-{framework}", f"gpu-{framework}"):
        if isinstance(hosts.get(name), dict):
            return dict(hosts[name])
    return next(
        (dict(h) for h in hosts.values() if isinstance(h, dict) and h.get("framework") == framework), {}
    )


def region_of(manifest: Mapping[str, Any]) -> str | None:
    if manifest.get("provider") != "aws":
        return None
    aws = (manifest.get("config") or {}).get("aws") or {}
    return aws.get("region") if isinstance(aws, dict) else None


def sustainable_rates(groups: pl.DataFrame, sweeps: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per (framework, scenario, payload) of `groups` (repetitions.across_reps): the rate and its source."""
    out = []
    for (fw, sc, payload), part in groups.group_by(["framework", "scenario", "payload"], maintain_order=True):
        sweep = sweeps.get(f"{fw}/{sc}/{payload}")
        rate: float | None
        if isinstance(sweep, dict):
            rate = sweep.get("best_rate")
            slo = float(sweep.get("slo_p99_ms") or "nan")
            source = (
                f"sweep: highest rate with p99 <= {slo:g} ms"
                if rate is not None
                else f"sweep: no rate met p99 <= {slo:g} ms"
            )
        else:
            sound = part.filter(
                (pl.col("reps_counted") == pl.col("reps"))
                & (pl.col("reps") > 0)
                & (pl.col("error_rate") <= MAX_ERROR_RATE)
            ).sort("rate")
            rate = sound["achieved_rate"][-1] if sound.height else None
            source = (
                f"highest rate measured ({sound['rate'][-1]:g} req/s target; no sweep: a lower bound)"
                if sound.height
                else "no rate where every repetition counted with <= 1 % errors"
            )
        out.append(
            {
                "framework": fw,
                "scenario": sc,
                "payload": payload,
                "sustainable_rate": rate,
                "rate_source": source,
            }
        )
    return out


def instances_per_request(manifest: Mapping[str, Any], scenario: str, payload: str) -> tuple[int | None, str]:
    """How many instances (inferences) one request of the payload carried, and a note when the count
    is not the run's own record: from the manifest, else today's registry for an older run."""
    recorded = (manifest.get("payload_instances") or {}).get(scenario)
    if isinstance(recorded, dict):
        count = recorded.get(payload)
        if _is_count(count):
            return int(count), ""
        return None, f"no instance count for {scenario} {payload} in the manifest: no cost per inference"
    from kit import scenarios  # only for runs written before the counts were recorded

    try:
        count = scenarios.instances_per_payload(scenario).get(payload)
    except KitError as exc:
        return None, f"no instance count for {scenario} {payload} ({exc.what}): no cost per inference"
    if not _is_count(count):
        return None, f"no instance count for {scenario} {payload}: no cost per inference"
    return int(count), (
        f"{count} instance(s) per request from today's scenario registry: this run's manifest "
        "predates recording them"
    )


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _price(
    manifest: Mapping[str, Any], host: Mapping[str, Any], table: PriceTable, rate: estimate.FamilyRate | str
) -> tuple[float | None, str | None, str, str]:
    """(USD per hour, price kind, what it is the price of, why there is none)."""
    itype = host.get("instance_type")
    if manifest.get("provider") != "aws":
        usd, basis = estimate.host_estimate(host, rate)
        return (usd, "estimate", basis, "") if usd is not None else (None, None, "", basis)
    region = region_of(manifest)
    usd = table.price(region, itype)
    if usd is None:
        return None, None, "", f"no price for {itype} in {region} in the table of {table.as_of}"
    return usd, "instance", f"{itype} on demand in {region}, table of {table.as_of}", ""


def cost_table(groups: pl.DataFrame, manifest: Mapping[str, Any] | None, table: PriceTable) -> pl.DataFrame:
    """One row per (framework, scenario, payload): its price, rate, and dollars per million requests
    and per million inferences."""
    if manifest is None or groups.height == 0:
        return pl.DataFrame(schema=COST_SCHEMA)
    region = region_of(manifest)
    rate_of_family = estimate.family_rate(table)
    rows = []
    for r in sustainable_rates(groups, manifest.get("sweeps") or {}):
        host = server_host(manifest, r["framework"])
        usd, kind, basis, no_price = _price(manifest, host, table, rate_of_family)
        count, count_note = instances_per_request(manifest, r["scenario"], r["payload"])
        rate = r["sustainable_rate"]
        per_request = usd / (rate * SECONDS_PER_HOUR) * 1e6 if usd is not None and rate else None
        per_inference = per_request / count if per_request is not None and count else None
        notes = [no_price, "" if rate else "no sustainable rate", count_note]
        rows.append(
            {
                **r,
                "instances_per_request": count,
                "instance_type": host.get("instance_type"),
                "region": region,
                "usd_per_hour": usd,
                "price_kind": kind,
                "price_basis": basis,
                "usd_per_million_requests": per_request,
                "usd_per_million_inferences": per_inference,
                "note": "; ".join(n for n in notes if n),
            }
        )
    return pl.DataFrame(rows, schema=COST_SCHEMA).sort(["framework", "scenario", "payload"])
