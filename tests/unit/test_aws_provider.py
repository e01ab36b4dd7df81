"""kit/provision/aws.py and the [aws] config table: the pure parts of the aws provider."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit import config
from kit.errors import UsageError
from kit.provision import aws, inventory


def test_host_names_follow_the_contract() -> None:
    assert aws.host_names(("mlserver", "mlflow"), gpu=False) == ["client", "srv-mlserver", "srv-mlflow"]
    assert aws.host_names(("mlserver",), gpu=True) == ["client", "gpu-mlserver"]


def test_expires_at() -> None:
    now = datetime(2030, 1, 1, 22, 30, 5, tzinfo=UTC)
    assert aws.expires_at(now, 4) == "2030-01-02T02:30:05Z"
    assert aws.expires_at(now, 0.5) == "2030-01-01T23:00:05Z"


def test_serving_ports_are_the_frameworks_own() -> None:
    ports = aws.serving_ports(("tfserving", "torchserve", "mlserver", "mlflow", "bentoml"))
    assert ports == {
        "tfserving": [8500, 8501],
        "torchserve": [8085, 8086, 8087],
        "mlserver": [8090, 8091, 8092],
        "mlflow": [5001],
        "bentoml": [3001],
    }


def test_known_hosts_from_the_kits_host_keys(tmp_path: Path, data_dir: Path) -> None:
    hosts = inventory.parse(
        {
            "client": {
                "name": "client",
                "public_ip": "54.1.1.1",
                "private_ip": "10.79.1.4",
                "ssh_user": "admin",
                "ssh_port": 22,
                "cpus": 4,
                "memory_mb": 8192,
                "gpu": False,
            },
            "servers": {
                "mlserver": {
                    "name": "gpu-mlserver",
                    "public_ip": "54.1.1.2",
                    "private_ip": "10.79.1.5",
                    "ssh_user": "ubuntu",
                    "ssh_port": 22,
                    "cpus": 4,
                    "memory_mb": 16384,
                    "gpu": True,
                    "framework": "mlserver",
                    "instance_type": "g5.xlarge",
                }
            },
        }
    )
    (tmp_path / "client_ed25519.pub").write_text("ssh-ed25519 AAAAclient serving-kit client\n")
    (tmp_path / "gpu-mlserver_ed25519.pub").write_text("ssh-ed25519 AAAAserver serving-kit gpu-mlserver\n")
    assert aws.known_hosts_lines(hosts, tmp_path) == [
        "54.1.1.1 ssh-ed25519 AAAAclient",
        "10.79.1.4 ssh-ed25519 AAAAclient",
        "54.1.1.2 ssh-ed25519 AAAAserver",
        "10.79.1.5 ssh-ed25519 AAAAserver",
    ]


def test_aws_defaults() -> None:
    a = config.Config().aws
    assert (a.region, a.client_instance_type, a.server_instance_type, a.gpu_server_instance_type) == (
        "us-east-1",
        "c6i.xlarge",
        "c6i.2xlarge",
        "g5.xlarge",
    )
    assert (a.ttl_hours, a.root_volume_gb, a.operator_cidr, a.endpoint) == (4, 30, "", "")


def test_operator_address_becomes_a_cidr() -> None:
    assert config.from_dict({"aws": {"operator_cidr": "203.0.113.7"}}).aws.operator_cidr == "203.0.113.7/32"
    assert (
        config.from_dict({"aws": {"operator_cidr": "203.0.113.0/24"}}).aws.operator_cidr == "203.0.113.0/24"
    )


@pytest.mark.parametrize(
    ("aws_table", "what"),
    [
        ({"region": "moon"}, "config: aws.region: 'moon' is not an AWS region name (such as us-east-1)"),
        (
            {"client_instance_type": "huge"},
            "config: aws.client_instance_type: 'huge' is not an EC2 instance type (such as c6i.xlarge)",
        ),
        (
            {"operator_cidr": "0.0.0.0/0"},
            "config: aws.operator_cidr: '0.0.0.0/0' is wider than /16: SSH must be open to your address only",
        ),
        (
            {"operator_cidr": "my laptop"},
            "config: aws.operator_cidr: 'my laptop' is not an IPv4 address or CIDR block",
        ),
        ({"ttl_hours": 0}, "config: aws.ttl_hours: Input should be greater than 0"),
        ({"ttl_hours": 100}, "config: aws.ttl_hours: Input should be less than or equal to 72"),
        ({"endpoint": "127.0.0.1:5000"}, "config: aws.endpoint: '127.0.0.1:5000' is not an http(s):// URL"),
        ({"instance": "big"}, "config: aws.instance: Extra inputs are not permitted"),
    ],
)
def test_bad_aws_tables(aws_table: dict, what: str) -> None:
    with pytest.raises(UsageError) as info:
        config.from_dict({"aws": aws_table})
    assert info.value.what == what
    assert info.value.hint == "See README.md, section Configuration, for every key and its allowed values"


def test_terraform_error_summary(data_dir: Path) -> None:
    captured = (data_dir / "aws" / "terraform_apply_keypair_duplicate.stderr").read_text()
    summary = aws.terraform_error(captured)
    assert summary is not None
    assert summary.startswith(
        "importing EC2 Key Pair (serving-kit-env-20300101-halfway): operation error EC2"
    )
    assert summary.endswith(
        "InvalidKeyPair.Duplicate: The keypair 'serving-kit-env-20300101-halfway' already exists."
    )
    assert aws.terraform_error("no error here\n") is None
