"""What an AWS account can run: the instance types' vCPUs and GPUs as AWS describes them, and the
EC2 On-Demand vCPU quotas a plan needs against those in use (the preflight's capacity checks)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from kit.errors import KitError, UsageError
from kit.provision.aws_api import Clients, calling, error_code, paginate, translate

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
