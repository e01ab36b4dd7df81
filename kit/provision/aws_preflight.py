"""Everything checked before `terraform apply` spends money: credentials, region, instance types,
a zone offering them, vCPU quotas, the operator's address, and the plan's estimated hourly cost.

Each failure is one KitError saying what is wrong and what to change; the figures of a plan that
passes are returned in a `Report` for the CLI to print and confirm.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kit.errors import KitError, UsageError
from kit.provision import aws_prices
from kit.provision.aws_api import Clients, calling, paginate
from kit.provision.aws_capacity import (
    QuotaCheck,
    TypeInfo,
    describe_types,
    quota_checks,
    quota_error,
    quota_limits,
    vcpus_by_quota,
    vcpus_in_use,
)
from kit.results.price_table import PriceTable

Progress = Callable[[str], None]

#: The service from which the operator's public address is read when [aws] operator_cidr is empty.
CHECKIP_URL = "https://checkip.amazonaws.com"


@dataclass(frozen=True)
class Plan:
    """What `kit up --provider aws` is about to create."""

    region: str
    client_type: str
    server_type: str
    servers: int
    gpu: bool
    volume_gb: int
    volume_type: str = "gp3"

    def instances(self) -> dict[str, int]:
        counts = {self.client_type: 1}
        counts[self.server_type] = counts.get(self.server_type, 0) + self.servers
        return counts

    @property
    def types(self) -> list[str]:
        return sorted(self.instances())


@dataclass(frozen=True)
class Report:
    """The preflight's findings: what the CLI prints before asking to go on."""

    account: str
    arn: str
    owner: str
    region: str
    zone: str
    operator_cidr: str
    plan: Plan
    types: dict[str, TypeInfo]
    quotas: list[QuotaCheck]
    estimate: aws_prices.Estimate
    ttl_hours: float
    expires_at: str
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the order a person reads them."""
        rows = [
            ("account", f"{self.account} ({self.arn})"),
            ("owner tag", self.owner),
            ("region / zone", f"{self.region} / {self.zone}"),
            ("SSH allowed from", self.operator_cidr),
        ]
        for itype, n in sorted(self.plan.instances().items()):
            t = self.types[itype]
            gpu = f", {t.gpus}x {t.gpu_model}" if t.gpus else ""
            rows.append((f"{n} x {itype}", f"{t.vcpus} vCPUs, {t.memory_mb} MiB{gpu}"))
        for q in self.quotas:
            limit = "unknown" if q.limit is None else f"{q.limit:g}"
            extra = f" ({q.note})" if q.note else ""
            rows.append((f"quota {q.code}", f"{q.in_use} in use + {q.needed} needed of {limit} vCPUs{extra}"))
        for line in self.estimate.lines:
            cost = "no pinned price" if line.usd_per_hour is None else f"${line.usd_per_hour:.4f}/h"
            rows.append((f"{line.count} x {line.what}", cost))
        hourly = self.estimate.usd_per_hour
        if hourly is None:
            missing = ", ".join(self.estimate.unknown)
            rows.append(("estimated cost", f"unknown (no pinned price for: {missing})"))
        else:
            rows.append(
                (
                    "estimated cost",
                    f"${hourly:.2f}/hour; at most ${hourly * self.ttl_hours:.2f} until ExpiresAt "
                    f"(prices of {self.estimate.table.as_of})",
                )
            )
        rows.append(("expires at", f"{self.expires_at} (hosts terminate themselves then)"))
        rows += [("note", n) for n in self.notes]
        return rows


def owner_from_arn(arn: str) -> str:
    """A readable Owner tag from the caller's ARN: user/alice -> alice; assumed-role/R/s -> R/s."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    name = rest or kind
    return re.sub(r"[^A-Za-z0-9 _.:/=+@-]", "-", name)[:128] or "unknown"


def check_region_name(clients: Clients) -> None:
    """Offline, from botocore's endpoint data: a typo must not become a DNS error later."""
    known = clients.session.get_available_regions("ec2")
    if known and clients.region not in known:
        raise UsageError(
            f"unknown AWS region '{clients.region}'",
            f"Set [aws] region to one of: {', '.join(sorted(known))}",
        )


def check_region_enabled(clients: Clients) -> None:
    with calling(f"checking that region {clients.region} is enabled"):
        regions = clients.ec2.describe_regions(AllRegions=True, RegionNames=[clients.region])["Regions"]
    status = regions[0].get("OptInStatus", "") if regions else "not-opted-in"
    if status == "not-opted-in":
        raise KitError(
            f"region {clients.region} is not enabled for this account",
            "Enable it (AWS console: Account, AWS Regions) or set [aws] region to an enabled one",
        )


def caller(clients: Clients) -> dict[str, str]:
    with calling("reading the caller identity (sts:GetCallerIdentity)"):
        ident = clients.client("sts").get_caller_identity()
    return {"account": str(ident["Account"]), "arn": str(ident["Arn"])}


def pick_zone(offerings: Iterable[dict[str, Any]], types: Iterable[str]) -> str | None:
    """The first zone (by name) that offers every type in `types` (pure)."""
    wanted = set(types)
    by_zone: dict[str, set[str]] = {}
    for o in offerings:
        by_zone.setdefault(o["Location"], set()).add(o["InstanceType"])
    zones = sorted(z for z, offered in by_zone.items() if wanted <= offered)
    return zones[0] if zones else None


def choose_zone(clients: Clients, types: list[str]) -> str:
    with calling("finding a zone that offers the instance types"):
        offerings = paginate(
            clients.ec2,
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": types}],
        )
    zone = pick_zone(offerings, types)
    if zone is None:
        raise KitError(
            f"no zone of {clients.region} offers all of {', '.join(types)}",
            "Choose instance types offered together, or another [aws] region",
        )
    return zone


def parse_operator_address(text: str) -> str:
    """The /32 of the address a check-ip service answered (pure)."""
    candidate = text.strip().split(",")[0].strip()
    try:
        addr = ipaddress.IPv4Address(candidate)
    except ValueError:
        raise KitError(
            f"the address service answered '{text.strip()[:60]}', not an IPv4 address",
            'Set [aws] operator_cidr = "<your public address>/32"',
        ) from None
    return f"{addr}/32"


def detect_operator_cidr(url: str = CHECKIP_URL, timeout: float = 10) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            text = resp.read(200).decode("ascii", errors="replace")
    except OSError as exc:
        raise KitError(
            f"could not detect your public address from {url} ({exc})",
            'Set [aws] operator_cidr = "<your public address>/32" (SSH is allowed from there only)',
        ) from None
    return parse_operator_address(text)


def run(
    clients: Clients,
    plan: Plan,
    *,
    run_id: str,
    owner: str,
    operator_cidr: str,
    ttl_hours: float,
    expires_at: str,
    progress: Progress,
    checkip_url: str = CHECKIP_URL,
    prices: PriceTable | None = None,
) -> Report:
    """Every check, in the order that makes the first failure the most useful one. `prices`: the
    workspace's newest table (kit.results.pricing.current_table); by default the current workspace's."""
    check_region_name(clients)
    progress("checking the AWS credentials")
    who = caller(clients)
    progress(f"checking region {plan.region}")
    check_region_enabled(clients)
    progress("checking the instance types")
    types = describe_types(clients, plan.types)
    if plan.gpu and types[plan.server_type].gpus == 0:
        raise UsageError(
            f"gpu_server_instance_type '{plan.server_type}' has no GPU",
            "Set [aws] gpu_server_instance_type to a GPU type such as g5.xlarge or g6.xlarge",
        )
    zone = choose_zone(clients, plan.types)
    progress("checking the vCPU quotas")
    needed = vcpus_by_quota(plan.instances(), types)
    checks = quota_checks(needed, vcpus_in_use(clients, run_id), quota_limits(clients, needed))
    error = quota_error(checks, plan.region)
    if error is not None:
        raise error
    cidr = operator_cidr
    if not cidr:
        progress("detecting your public address (SSH will be allowed from it only)")
        cidr = detect_operator_cidr(checkip_url)
    notes = []
    unknown = [c.code for c in checks if c.limit is None]
    if unknown:
        notes.append(f"quota {', '.join(unknown)} could not be read; a too-small quota fails the apply")
    estimate = aws_prices.estimate(
        plan.region, plan.instances(), volume_gb=plan.volume_gb, volume_type=plan.volume_type, table=prices
    )
    return Report(
        account=who["account"],
        arn=who["arn"],
        owner=owner or owner_from_arn(who["arn"]),
        region=plan.region,
        zone=zone,
        operator_cidr=cidr,
        plan=plan,
        types=types,
        quotas=checks,
        estimate=estimate,
        ttl_hours=ttl_hours,
        expires_at=expires_at,
        notes=notes,
    )
