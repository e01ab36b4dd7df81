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

import botocore.exceptions

from kit.errors import KitError, UsageError
from kit.provision import aws_prices
from kit.provision.aws_api import Clients, calling, error_code, paginate, translate
from kit.results.price_table import PriceTable

Progress = Callable[[str], None]

#: The service from which the operator's public address is read when [aws] operator_cidr is empty.
CHECKIP_URL = "https://checkip.amazonaws.com"

#: EC2 On-Demand vCPU quotas by instance-family class (Service Quotas codes, service "ec2").
QUOTAS: dict[str, tuple[str, str]] = {
    "standard": ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    "g": ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    "p": ("L-417A185B", "Running On-Demand P instances"),
    "f": ("L-74FC7D96", "Running On-Demand F instances"),
    "inf": ("L-1945791B", "Running On-Demand Inf instances"),
    "x": ("L-7295265B", "Running On-Demand X instances"),
}
_STANDARD = {"a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"}


def quota_class(instance_type: str) -> str | None:
    """The vCPU quota an instance type counts against (c6i.xlarge -> standard, g5.xlarge -> g)."""
    match = re.match(r"^([a-z]+)", instance_type)
    letters = match.group(1) if match else ""
    if letters in _STANDARD:
        return "standard"
    if letters in ("g", "vt"):
        return "g"
    return letters if letters in QUOTAS else None


@dataclass(frozen=True)
class TypeInfo:
    name: str
    vcpus: int
    memory_mb: int
    gpus: int
    gpu_model: str = ""


def parse_instance_types(items: Iterable[dict[str, Any]]) -> dict[str, TypeInfo]:
    """describe_instance_types' InstanceTypes -> facts by type name (pure)."""
    out: dict[str, TypeInfo] = {}
    for it in items:
        gpus = it.get("GpuInfo", {}).get("Gpus", [])
        out[it["InstanceType"]] = TypeInfo(
            it["InstanceType"],
            int(it["VCpuInfo"]["DefaultVCpus"]),
            int(it["MemoryInfo"]["SizeInMiB"]),
            sum(int(g.get("Count", 0)) for g in gpus),
            ", ".join(f"{g.get('Manufacturer', '')} {g.get('Name', '')}".strip() for g in gpus),
        )
    return out


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
class QuotaCheck:
    code: str
    name: str
    needed: int
    in_use: int
    limit: float | None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.limit is None or self.in_use + self.needed <= self.limit


def vcpus_by_quota(instances: dict[str, int], types: dict[str, TypeInfo]) -> dict[str, int]:
    """vCPUs per quota class for {instance type: count} (types without a known class are skipped)."""
    out: dict[str, int] = {}
    for itype, count in instances.items():
        cls = quota_class(itype)
        if cls is not None and itype in types:
            out[cls] = out.get(cls, 0) + types[itype].vcpus * count
    return out


def quota_checks(
    needed: dict[str, int], in_use: dict[str, int], limits: dict[str, tuple[float | None, str]]
) -> list[QuotaCheck]:
    """One check per quota class the plan needs (pure): limit None means it could not be read."""
    checks = []
    for cls, vcpus in sorted(needed.items()):
        code, name = QUOTAS[cls]
        limit, note = limits.get(cls, (None, "not read"))
        checks.append(QuotaCheck(code, name, vcpus, in_use.get(cls, 0), limit, note))
    return checks


def quota_error(checks: list[QuotaCheck], region: str) -> KitError | None:
    short = [c for c in checks if not c.ok]
    if not short:
        return None
    c = short[0]
    return KitError(
        f"vCPU quota too small in {region}: '{c.name}' allows {c.limit:g} vCPUs, "
        f"{c.in_use} are in use and the plan needs {c.needed} more",
        f"Request an increase of quota {c.code} (Service Quotas console, EC2, {region}), stop other "
        "instances, or choose smaller instance types in [aws]",
    )


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


def describe_types(clients: Clients, names: list[str]) -> dict[str, TypeInfo]:
    try:
        items = paginate(clients.ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=names)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "InvalidInstanceType":
            listed = re.search(r"\[(.*)\]", str(exc))
            bad = listed.group(1) if listed else ", ".join(names)
            raise UsageError(
                f"unknown instance type in {clients.region}: {bad}",
                "Set [aws] client_instance_type, server_instance_type or gpu_server_instance_type to a "
                f"type {clients.region} offers (`aws ec2 describe-instance-type-offerings`)",
            ) from None
        raise translate(exc, "describing the instance types") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate(exc, "describing the instance types") from exc
    return parse_instance_types(items)


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


def vcpus_in_use(clients: Clients, exclude_run: str) -> dict[str, int]:
    """Running vCPUs per quota class, leaving out this run's own hosts (a resumed `kit up`)."""
    with calling("counting the instances already running"):
        reservations = paginate(
            clients.ec2,
            "describe_instances",
            "Reservations",
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}],
        )
    counts: dict[str, int] = {}
    for res in reservations:
        for inst in res.get("Instances", []):
            tags = {t["Key"]: t["Value"] for t in inst.get("Tags", []) or []}
            if tags.get("Project") == "serving-kit" and tags.get("RunId") == exclude_run:
                continue
            counts[inst["InstanceType"]] = counts.get(inst["InstanceType"], 0) + 1
    if not counts:
        return {}
    return vcpus_by_quota(counts, describe_types(clients, sorted(counts)))


def quota_limits(clients: Clients, classes: Iterable[str]) -> dict[str, tuple[float | None, str]]:
    """Each class's applied quota, else AWS's default; (None, why) when neither can be read."""
    sq = clients.client("service-quotas")
    out: dict[str, tuple[float | None, str]] = {}
    for cls in classes:
        code = QUOTAS[cls][0]
        try:
            out[cls] = (float(sq.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]), "")
            continue
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("AccessDeniedException", "AccessDenied"):
                out[cls] = (None, "not allowed to read it: servicequotas:GetServiceQuota")
                continue
        except botocore.exceptions.BotoCoreError as exc:
            out[cls] = (None, f"unreadable: {type(exc).__name__}")
            continue
        try:
            value = sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
            out[cls] = (float(value), "AWS default; no applied value")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            out[cls] = (None, f"unreadable: {error_code(exc) or type(exc).__name__}")
    return out


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
