"""Find and delete what the kit created on AWS by its tags, with no Terraform state needed.

Every resource of a run carries {Project=serving-kit, RunId, Owner, ExpiresAt}. `kit reap` deletes
the runs whose ExpiresAt has passed (or one named run), and `kit down` uses the same code after its
`terraform destroy`, so that a lost state file or a failure halfway through an apply never leaves
anything billed. Deletion follows the dependencies: instances (and wait until they are gone), key
pairs, volumes, security-group rules then groups, internet gateways, subnets, route tables, VPCs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import botocore.exceptions

from kit.provision.aws_api import Clients, calling, error_code, paginate, retrying

PROJECT = "serving-kit"
Progress = Callable[[str], None]

#: Deletion order; a kind is deleted only after every kind before it.
KINDS: tuple[str, ...] = (
    "instance",
    "key-pair",
    "volume",
    "security-group",
    "internet-gateway",
    "subnet",
    "route-table",
    "vpc",
)
#: Errors that mean "a dependency is still going away": retried (AWS is eventually consistent).
_TRANSIENT = {"DependencyViolation", "InvalidNetworkInterface.InUse", "VolumeInUse", "IncorrectState"}
_GONE_SUFFIXES = (".NotFound", "NotFound", ".Malformed")


@dataclass(frozen=True)
class Tagged:
    kind: str
    id: str
    tags: dict[str, str] = field(default_factory=dict)
    state: str = ""
    vpc_id: str = ""
    #: Attachments to undo first: an internet gateway's VPCs, a route table's association ids.
    attached: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return self.tags.get("RunId", "")

    @property
    def expires_at(self) -> datetime | None:
        return parse_time(self.tags.get("ExpiresAt", ""))

    def label(self) -> str:
        return f"{self.kind} {self.id}"


def parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", []) or []}


def parse(responses: dict[str, list[dict[str, Any]]]) -> list[Tagged]:
    """Tagged resources out of the describe_* responses' item lists, keyed by API (pure)."""
    found: list[Tagged] = []
    for reservation in responses.get("describe_instances", []):
        for inst in reservation.get("Instances", []):
            state = inst.get("State", {}).get("Name", "")
            if state == "terminated":
                continue  # listed for a while after it is gone; nothing left to delete or bill
            found.append(Tagged("instance", inst["InstanceId"], _tags(inst), state, inst.get("VpcId", "")))
    for kp in responses.get("describe_key_pairs", []):
        found.append(Tagged("key-pair", kp["KeyPairId"], _tags(kp), "", "", (kp.get("KeyName", ""),)))
    for vol in responses.get("describe_volumes", []):
        if vol.get("State") in ("deleting", "deleted"):
            continue
        found.append(Tagged("volume", vol["VolumeId"], _tags(vol), vol.get("State", "")))
    for sg in responses.get("describe_security_groups", []):
        found.append(Tagged("security-group", sg["GroupId"], _tags(sg), "", sg.get("VpcId", "")))
    for igw in responses.get("describe_internet_gateways", []):
        vpcs = tuple(a["VpcId"] for a in igw.get("Attachments", []) if a.get("VpcId"))
        found.append(Tagged("internet-gateway", igw["InternetGatewayId"], _tags(igw), "", "", vpcs))
    for subnet in responses.get("describe_subnets", []):
        found.append(Tagged("subnet", subnet["SubnetId"], _tags(subnet), "", subnet.get("VpcId", "")))
    for rt in responses.get("describe_route_tables", []):
        assoc = tuple(
            a["RouteTableAssociationId"]
            for a in rt.get("Associations", [])
            if not a.get("Main") and a.get("RouteTableAssociationId")
        )
        found.append(Tagged("route-table", rt["RouteTableId"], _tags(rt), "", rt.get("VpcId", ""), assoc))
    for vpc in responses.get("describe_vpcs", []):
        found.append(Tagged("vpc", vpc["VpcId"], _tags(vpc), vpc.get("State", "")))
    return found


_LISTS: tuple[tuple[str, str], ...] = (
    ("describe_instances", "Reservations"),
    ("describe_key_pairs", "KeyPairs"),
    ("describe_volumes", "Volumes"),
    ("describe_security_groups", "SecurityGroups"),
    ("describe_internet_gateways", "InternetGateways"),
    ("describe_subnets", "Subnets"),
    ("describe_route_tables", "RouteTables"),
    ("describe_vpcs", "Vpcs"),
)


def describe(ec2: Any, run_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every kit-tagged item (of one run, when given) from each describe_* call."""
    filters = [{"Name": "tag:Project", "Values": [PROJECT]}]
    if run_id:
        filters.append({"Name": "tag:RunId", "Values": [run_id]})
    out: dict[str, list[dict[str, Any]]] = {}
    with calling("listing the kit's tagged resources"):
        for op, key in _LISTS:
            if op == "describe_key_pairs":  # not paginated
                out[op] = ec2.describe_key_pairs(Filters=filters).get(key, [])
            else:
                out[op] = paginate(ec2, op, key, Filters=filters)
    return out


def find(ec2: Any, run_id: str | None = None) -> list[Tagged]:
    return parse(describe(ec2, run_id))


def expired_runs(resources: Iterable[Tagged], now: datetime) -> set[str]:
    """Runs with at least one resource whose ExpiresAt has passed (a run expires as a whole)."""
    return {r.run_id for r in resources if r.expires_at is not None and r.expires_at <= now and r.run_id}


def select(resources: Iterable[Tagged], *, run_id: str | None, now: datetime) -> list[Tagged]:
    """What to delete: the named run's resources, or every resource of an expired run; in order.

    A resource with no readable ExpiresAt and no RunId is never selected: the kit deletes only what it
    can prove it made and no longer needs.
    """
    items = list(resources)
    runs = {run_id} if run_id else expired_runs(items, now)
    doomed = [r for r in items if r.run_id in runs]
    return sorted(doomed, key=lambda r: (KINDS.index(r.kind), r.run_id, r.id))


def _gone(exc: botocore.exceptions.ClientError) -> bool:
    return error_code(exc).endswith(_GONE_SUFFIXES)


def delete(
    ec2: Any,
    doomed: list[Tagged],
    progress: Progress,
    *,
    sleep: Callable[[float], None],
    attempts: int = 40,
) -> list[str]:
    """Delete `doomed` (as `select` ordered it); returns what was deleted. Already gone counts as done."""
    removed: list[str] = []
    by_kind: dict[str, list[Tagged]] = {}
    for r in doomed:
        by_kind.setdefault(r.kind, []).append(r)

    instances = [r.id for r in by_kind.get("instance", [])]
    if instances:
        progress(f"terminating {len(instances)} instance(s)")
        with calling("terminating the kit's instances"):
            try:
                ec2.terminate_instances(InstanceIds=instances)
            except botocore.exceptions.ClientError as exc:
                if not _gone(exc):
                    raise
            progress("waiting until the instances are terminated")
            ec2.get_waiter("instance_terminated").wait(
                InstanceIds=instances, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
            )
        removed += [f"instance {i}" for i in instances]

    def attempt(label: str, action: Callable[[], object]) -> None:
        progress(f"deleting {label}")
        with calling(f"deleting {label}"):
            try:
                retrying(action, retry_codes=_TRANSIENT, attempts=attempts, sleep=sleep)
            except botocore.exceptions.ClientError as exc:
                if not _gone(exc):
                    raise
        removed.append(label)

    for kp in by_kind.get("key-pair", []):
        # By name: unique per region like the id, and the one every implementation of the API honours.
        by = {"KeyName": kp.attached[0]} if kp.attached and kp.attached[0] else {"KeyPairId": kp.id}
        attempt(kp.label(), partial(ec2.delete_key_pair, **by))
    for vol in by_kind.get("volume", []):
        attempt(vol.label(), partial(ec2.delete_volume, VolumeId=vol.id))

    groups = by_kind.get("security-group", [])
    # Groups reference each other (serving ports are open to the client's group): drop every rule
    # first, or whichever group goes first is still "in use" by the other's rule.
    for sg in groups:
        _revoke_all(ec2, sg.id)
    for sg in groups:
        attempt(sg.label(), partial(ec2.delete_security_group, GroupId=sg.id))

    for igw in by_kind.get("internet-gateway", []):
        for vpc_id in igw.attached:
            with calling(f"detaching {igw.label()}"):
                try:
                    retrying(
                        partial(ec2.detach_internet_gateway, InternetGatewayId=igw.id, VpcId=vpc_id),
                        retry_codes=_TRANSIENT,
                        attempts=attempts,
                        sleep=sleep,
                    )
                except botocore.exceptions.ClientError as exc:
                    if not (_gone(exc) or error_code(exc) == "Gateway.NotAttached"):
                        raise
        attempt(igw.label(), partial(ec2.delete_internet_gateway, InternetGatewayId=igw.id))

    for subnet in by_kind.get("subnet", []):
        attempt(subnet.label(), partial(ec2.delete_subnet, SubnetId=subnet.id))
    for rt in by_kind.get("route-table", []):
        for assoc in rt.attached:
            with calling(f"disassociating {rt.label()}"):
                try:
                    ec2.disassociate_route_table(AssociationId=assoc)
                except botocore.exceptions.ClientError as exc:
                    if not _gone(exc):
                        raise
        attempt(rt.label(), partial(ec2.delete_route_table, RouteTableId=rt.id))
    for vpc in by_kind.get("vpc", []):
        attempt(vpc.label(), partial(ec2.delete_vpc, VpcId=vpc.id))
    return removed


def _revoke_all(ec2: Any, group_id: str) -> None:
    with calling(f"removing the rules of security group {group_id}"):
        try:
            rules = paginate(
                ec2,
                "describe_security_group_rules",
                "SecurityGroupRules",
                Filters=[{"Name": "group-id", "Values": [group_id]}],
            )
        except botocore.exceptions.ClientError as exc:
            if _gone(exc):
                return
            raise
        ingress = [r["SecurityGroupRuleId"] for r in rules if not r.get("IsEgress")]
        egress = [r["SecurityGroupRuleId"] for r in rules if r.get("IsEgress")]
        try:
            if ingress:
                ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=ingress)
            if egress:
                ec2.revoke_security_group_egress(GroupId=group_id, SecurityGroupRuleIds=egress)
        except botocore.exceptions.ClientError as exc:
            if not _gone(exc):
                raise


def now_utc() -> datetime:
    return datetime.now(UTC)


def reap(
    region: str,
    endpoint: str = "",
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    progress: Progress,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """`kit reap`: every resource of an expired run (or of `run_id`) in `region`, listed and deleted."""
    ec2 = Clients(region, endpoint).ec2
    progress(f"listing resources tagged Project={PROJECT} in {region}")
    found = find(ec2)
    doomed = select(found, run_id=run_id, now=now or now_utc())
    rows = [
        {
            "kind": r.kind,
            "id": r.id,
            "run_id": r.run_id,
            "owner": r.tags.get("Owner", ""),
            "expires_at": r.tags.get("ExpiresAt", ""),
        }
        for r in doomed
    ]
    deleted = [] if dry_run or not doomed else delete(ec2, doomed, progress, sleep=sleep)
    kept = sorted({r.run_id for r in found} - {r.run_id for r in doomed})
    return {
        "region": region,
        "dry_run": dry_run,
        "runs": sorted({r.run_id for r in doomed}),
        "resources": rows,
        "deleted": deleted,
        "kept_runs": kept,
    }
