"""A small pinned, dated AWS price table for the preflight's hourly estimate of a plan.

Pinned, not fetched: the estimate must be the same offline, in tests and on a machine without the
Pricing API's permissions, and a dated table says exactly how old its figures are. Figures are the
public On-Demand list prices (Linux, shared tenancy) in USD; regions missing here are estimated as
"unknown", never guessed. Storage and public-address prices are pinned here, with the same date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.results.cost import newest_table

# The instance prices are the report's pinned table (kit/results/prices/aws-ec2-<date>.json, the
# newest one there): one table, so the preflight's estimate and the report's cost never disagree.
_TABLE = newest_table()
PRICES_AS_OF = _TABLE.as_of
SOURCE = _TABLE.source

#: USD per instance-hour, by region and instance type.
INSTANCE_USD_PER_HOUR: dict[str, dict[str, float]] = {r: dict(t) for r, t in _TABLE.usd_per_hour.items()}
#: USD per GB-month of EBS storage (a month is 730 hours in AWS's own arithmetic).
EBS_USD_PER_GB_MONTH: dict[str, dict[str, float]] = {
    "us-east-1": {"gp3": 0.08, "gp2": 0.10, "io2": 0.125},
    "us-west-2": {"gp3": 0.08, "gp2": 0.10, "io2": 0.125},
}
#: Every public IPv4 address, in use or not, since 2024-02-01.
PUBLIC_IPV4_USD_PER_HOUR = 0.005
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Line:
    what: str
    count: int
    unit_usd_per_hour: float | None

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.unit_usd_per_hour is None else self.unit_usd_per_hour * self.count


@dataclass(frozen=True)
class Estimate:
    region: str
    lines: list[Line] = field(default_factory=list)

    @property
    def unknown(self) -> list[str]:
        return [line.what for line in self.lines if line.unit_usd_per_hour is None]

    @property
    def usd_per_hour(self) -> float | None:
        """The plan's hourly cost; None when any part has no pinned price (a partial sum would mislead)."""
        if self.unknown:
            return None
        return sum(line.usd_per_hour or 0.0 for line in self.lines)

    def usd_for(self, hours: float) -> float | None:
        hourly = self.usd_per_hour
        return None if hourly is None else hourly * hours


def estimate(
    region: str,
    instances: dict[str, int],
    *,
    volume_gb: int,
    volume_type: str = "gp3",
    public_ips: int | None = None,
) -> Estimate:
    """Hourly cost of `instances` ({instance type: count}), their root volumes and public addresses."""
    prices = INSTANCE_USD_PER_HOUR.get(region, {})
    lines = [Line(f"{itype} instance", n, prices.get(itype)) for itype, n in sorted(instances.items())]
    hosts = sum(instances.values())
    per_gb = EBS_USD_PER_GB_MONTH.get(region, {}).get(volume_type)
    volume_hour = None if per_gb is None else per_gb * volume_gb / HOURS_PER_MONTH
    lines.append(Line(f"{volume_gb} GB {volume_type} root volume", hosts, volume_hour))
    addresses = hosts if public_ips is None else public_ips
    lines.append(Line("public IPv4 address", addresses, PUBLIC_IPV4_USD_PER_HOUR))
    return Estimate(region, lines)
