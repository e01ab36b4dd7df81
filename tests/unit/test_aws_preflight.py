"""kit/provision/aws_preflight.py: the pure parts of the checks before an apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.provision import aws_capacity, aws_prices
from kit.provision import aws_preflight as pf
from kit.results import price_table


@pytest.fixture
def types(data_dir: Path) -> dict[str, aws_capacity.TypeInfo]:
    captured = json.loads((data_dir / "aws" / "describe_instance_types.json").read_text())
    return aws_capacity.parse_instance_types(captured["InstanceTypes"])


def test_instance_types_from_aws(types: dict[str, aws_capacity.TypeInfo]) -> None:
    assert types["c6i.xlarge"] == aws_capacity.TypeInfo("c6i.xlarge", 4, 8192, 0, "")
    assert types["c6i.2xlarge"] == aws_capacity.TypeInfo("c6i.2xlarge", 8, 16384, 0, "")
    assert types["g5.xlarge"] == aws_capacity.TypeInfo("g5.xlarge", 4, 16384, 1, "NVIDIA A10G")


@pytest.mark.parametrize(
    ("itype", "cls"),
    [
        ("c6i.xlarge", "standard"),
        ("m7i.2xlarge", "standard"),
        ("t3.micro", "standard"),
        ("r6i.large", "standard"),
        ("im4gn.large", "standard"),
        ("g5.xlarge", "g"),
        ("g4dn.xlarge", "g"),
        ("vt1.3xlarge", "g"),
        ("p4d.24xlarge", "p"),
        ("inf2.xlarge", "inf"),
        ("x2idn.16xlarge", "x"),
        ("trn1.2xlarge", None),
        ("u-6tb1.56xlarge", None),
    ],
)
def test_quota_class(itype: str, cls: str | None) -> None:
    assert aws_capacity.quota_class(itype) == cls


def plan(gpu: bool = False, servers: int = 1) -> pf.Plan:
    return pf.Plan("us-east-1", "c6i.xlarge", "g5.xlarge" if gpu else "c6i.2xlarge", servers, gpu, 30)


def test_plan_counts_instances() -> None:
    assert plan().instances() == {"c6i.xlarge": 1, "c6i.2xlarge": 1}
    assert plan(servers=3).instances() == {"c6i.xlarge": 1, "c6i.2xlarge": 3}
    same = pf.Plan("us-east-1", "c6i.xlarge", "c6i.xlarge", 2, False, 30)
    assert same.instances() == {"c6i.xlarge": 3}


def test_vcpus_needed(types: dict[str, aws_capacity.TypeInfo]) -> None:
    assert aws_capacity.vcpus_by_quota(plan().instances(), types) == {"standard": 12}
    assert aws_capacity.vcpus_by_quota(plan(gpu=True, servers=2).instances(), types) == {
        "standard": 4,
        "g": 8,
    }


def test_enough_quota() -> None:
    checks = aws_capacity.quota_checks({"standard": 12}, {"standard": 20}, {"standard": (32.0, "")})
    assert checks == [
        aws_capacity.QuotaCheck("L-1216C47A", aws_capacity.QUOTAS["standard"][1], 12, 20, 32.0, "")
    ]
    assert checks[0].ok and aws_capacity.quota_error(checks, "us-east-1") is None


def test_quota_too_small() -> None:
    # New accounts often start with 0 vCPUs for G instances.
    checks = aws_capacity.quota_checks({"standard": 4, "g": 4}, {}, {"standard": (32.0, ""), "g": (0.0, "")})
    err = aws_capacity.quota_error(checks, "us-east-1")
    assert isinstance(err, KitError)
    assert err.what == (
        "vCPU quota too small in us-east-1: 'Running On-Demand G and VT instances' allows 0 vCPUs, "
        "0 are in use and the plan needs 4 more"
    )
    assert err.hint == (
        "Request an increase of quota L-DB2E81BA (Service Quotas console, EC2, us-east-1), stop other "
        "instances, or choose smaller instance types in [aws]"
    )


def test_quota_in_use_counts() -> None:
    checks = aws_capacity.quota_checks({"standard": 12}, {"standard": 24}, {"standard": (32.0, "")})
    assert not checks[0].ok


def test_unreadable_quota_does_not_block() -> None:
    checks = aws_capacity.quota_checks({"g": 4}, {}, {"g": (None, "unreadable: NoSuchResourceException")})
    assert checks[0].ok and checks[0].limit is None
    assert aws_capacity.quota_error(checks, "us-east-1") is None


def test_zone_offering_every_type() -> None:
    offerings = [
        {"InstanceType": "c6i.xlarge", "Location": "us-east-1a"},
        {"InstanceType": "c6i.xlarge", "Location": "us-east-1b"},
        {"InstanceType": "g5.xlarge", "Location": "us-east-1b"},
        {"InstanceType": "c6i.xlarge", "Location": "us-east-1c"},
        {"InstanceType": "g5.xlarge", "Location": "us-east-1c"},
    ]
    assert pf.pick_zone(offerings, ["c6i.xlarge", "g5.xlarge"]) == "us-east-1b"
    assert pf.pick_zone(offerings, ["c6i.xlarge"]) == "us-east-1a"
    assert pf.pick_zone(offerings, ["p5.48xlarge"]) is None


@pytest.mark.parametrize(
    ("arn", "owner"),
    [
        ("arn:aws:iam::123456789012:user/alice", "alice"),
        ("arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com", "Admin/alice@example.com"),
        ("arn:aws:iam::123456789012:root", "root"),
        ("arn:aws:sts::123456789012:federated-user/bob#1", "bob-1"),
    ],
)
def test_owner_from_arn(arn: str, owner: str) -> None:
    assert pf.owner_from_arn(arn) == owner


def test_operator_address() -> None:
    assert pf.parse_operator_address("203.0.113.7\n") == "203.0.113.7/32"
    with pytest.raises(KitError) as info:
        pf.parse_operator_address("<html>captive portal</html>")
    assert (
        info.value.what == "the address service answered '<html>captive portal</html>', not an IPv4 address"
    )
    assert info.value.hint == 'Set [aws] operator_cidr = "<your public address>/32"'


def test_report_rows(types: dict[str, aws_capacity.TypeInfo]) -> None:
    p = plan(gpu=True)
    pinned = price_table.load_table(price_table.PRICES_DIR / "aws-ec2-2025-06-01.json")
    report = pf.Report(
        account="123456789012",
        arn="arn:aws:iam::123456789012:user/alice",
        owner="alice",
        region="us-east-1",
        zone="us-east-1b",
        operator_cidr="203.0.113.7/32",
        plan=p,
        types=types,
        quotas=aws_capacity.quota_checks(
            {"standard": 4, "g": 4}, {}, {"standard": (32.0, ""), "g": (None, "unreadable")}
        ),
        estimate=aws_prices.estimate("us-east-1", p.instances(), volume_gb=30, table=pinned),
        ttl_hours=4,
        expires_at="2030-01-01T04:00:00Z",
        notes=["quota L-DB2E81BA could not be read; a too-small quota fails the apply"],
    )
    rows = dict(report.rows())
    assert rows["1 x g5.xlarge"] == "4 vCPUs, 16384 MiB, 1x NVIDIA A10G"
    assert rows["quota L-DB2E81BA"] == "0 in use + 4 needed of unknown vCPUs (unreadable)"
    assert rows["quota L-1216C47A"] == "0 in use + 4 needed of 32 vCPUs"
    assert rows["estimated cost"] == "$1.19/hour; at most $4.77 until ExpiresAt (prices of 2025-06-01)"
    assert rows["expires at"] == "2030-01-01T04:00:00Z (hosts terminate themselves then)"
