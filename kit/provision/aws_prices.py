"""The preflight's hourly estimate of a plan, from the kit's one dated price table.

Instance prices come from the newest table of the pinned folder (kit/results/prices/) and the
workspace's (`.kit/prices/`, where `kit report --refresh-prices` writes): the table the report prices
runs with and the bench records in the manifest (kit.results.pricing.current_table), so a plan's
estimate and a run's cost never come from two tables. Dated, not fetched here: the estimate is the
same offline, in tests and on a machine without the Pricing API's permissions. Figures are On-Demand
list prices (Linux, shared tenancy) in USD; a region or type missing from the table is "unknown",
never guessed. Storage and public-address prices are pinned here (list prices of 2025-06-01).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.results import pricing
from kit.results.price_table import PriceTable

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
    table: PriceTable  # the table the instance lines were priced from
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
    table: PriceTable | None = None,
) -> Estimate:
    """Hourly cost of `instances` ({instance type: count}), their root volumes and public addresses,
    from `table` (default: the current workspace's newest table, the one its report would use)."""
    table = table or pricing.current_table(pricing.workspace_folder())
    lines = [
        Line(f"{itype} instance", n, table.price(region, itype)) for itype, n in sorted(instances.items())
    ]
    hosts = sum(instances.values())
    per_gb = EBS_USD_PER_GB_MONTH.get(region, {}).get(volume_type)
    volume_hour = None if per_gb is None else per_gb * volume_gb / HOURS_PER_MONTH
    lines.append(Line(f"{volume_gb} GB {volume_type} root volume", hosts, volume_hour))
    addresses = hosts if public_ips is None else public_ips
    lines.append(Line("public IPv4 address", addresses, PUBLIC_IPV4_USD_PER_HOUR))
    return Estimate(region, table, lines)
