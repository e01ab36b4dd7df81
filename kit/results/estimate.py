"""An hourly price for a server host that is not a cloud instance (the local provider's LXD hosts).

A local host has no price of its own, but its CPUs and memory do have a market price: what the
same capacity costs on demand in AWS's compute-optimised family. The method, stated in the report
with every figure it gives:

    usd_per_hour = usd_per_vcpu_hour * max(vcpus, memory_gib / gib_per_vcpu)

where usd_per_vcpu_hour and gib_per_vcpu are those of the family's smallest size in the price
table (`ESTIMATE_FAMILY` in `ESTIMATE_REGION`: c6i.large, 2 vCPUs, 4 GiB, $0.085/h in the table of
2025-06-01, so $0.0425 per vCPU-hour with 2 GiB per vCPU). The family sells vCPUs and memory only
together, so a host pays for whichever of the two it needs more of: a 1-CPU, 4 GiB server host costs
the share of c6i that holds 4 GiB, two vCPUs' worth, $0.085/h. One host CPU (an LXD core) is counted
as one vCPU (a hyperthread on c6i): the estimate prices the capacity, not the silicon, and is
labelled an estimate everywhere it appears. A host with a GPU has no compute-optimised equivalent
and gets no estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from kit.results.price_table import PriceTable

#: The aws provider's default server family ([aws] server_instance_type = c6i.2xlarge), so that a
#: local run's estimate and an AWS run's real price are prices of the same kind of capacity.
ESTIMATE_FAMILY = "c6i"
ESTIMATE_REGION = "us-east-1"


@dataclass(frozen=True)
class FamilyRate:
    """The price of one vCPU-hour in the family, and how much memory comes with each vCPU."""

    family: str
    region: str
    as_of: str
    reference: str  # the size the rate comes from (the family's smallest in the table)
    reference_usd_per_hour: float
    usd_per_vcpu_hour: float
    gib_per_vcpu: float

    @property
    def method(self) -> str:
        return (
            f"{self.family}, AWS's compute-optimised family, on demand in {self.region}, table of "
            f"{self.as_of}: {self.reference} at ${self.reference_usd_per_hour:g}/h is "
            f"${self.usd_per_vcpu_hour:.4g} per vCPU-hour with {self.gib_per_vcpu:g} GiB per vCPU, so a "
            f"host costs max(vCPUs, GiB / {self.gib_per_vcpu:g}) × ${self.usd_per_vcpu_hour:.4g} an hour "
            "(one host CPU counted as one vCPU)"
        )


def family_rate(table: PriceTable) -> FamilyRate | str:
    """The family's rate in the table, or why the table cannot give one (a labelled 'no price')."""
    prices = table.usd_per_hour.get(ESTIMATE_REGION, {})
    sizes = [
        (table.specs[t]["vcpus"], t)
        for t in prices
        if t.split(".")[0] == ESTIMATE_FAMILY and t in table.specs
    ]
    if not sizes:
        return (
            f"no price: the table of {table.as_of} ({table.path.name}) has no {ESTIMATE_FAMILY} size "
            f"with its vCPUs and memory in {ESTIMATE_REGION}, which the local estimate is priced from"
        )
    vcpus, reference = min(sizes)
    spec = table.specs[reference]
    return FamilyRate(
        family=ESTIMATE_FAMILY,
        region=ESTIMATE_REGION,
        as_of=table.as_of,
        reference=reference,
        reference_usd_per_hour=prices[reference],
        usd_per_vcpu_hour=prices[reference] / vcpus,
        gib_per_vcpu=spec["memory_gib"] / vcpus,
    )


def host_estimate(host: Mapping[str, Any], rate: FamilyRate | str) -> tuple[float | None, str]:
    """(USD per hour, what it is) for a host's facts (the manifest's `hosts` entry): its `cpus` and
    `memory_mb`. Without them, with a GPU, or without a family rate: (None, why not)."""
    if isinstance(rate, str):
        return None, rate
    name = host.get("name") or "the server host"
    if host.get("gpu"):
        return None, f"no price: {name} has a GPU, and {rate.family} has none to price it by"
    cpus, memory_mb = host.get("cpus"), host.get("memory_mb")
    if not _positive(cpus) or not _positive(memory_mb):
        return None, f"no price: the manifest does not record {name}'s CPUs and memory (cpus, memory_mb)"
    gib = float(memory_mb) / 1024
    share = max(float(cpus), gib / rate.gib_per_vcpu)
    usd = rate.usd_per_vcpu_hour * share
    binds = "memory binds" if gib / rate.gib_per_vcpu > float(cpus) else "vCPUs bind"
    return usd, (
        f"estimate: {cpus:g} vCPU, {gib:g} GiB priced as {share:g} {rate.family} vCPU-hours an hour "
        f"({binds}) in {rate.region}, table of {rate.as_of}"
    )


def _positive(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
