"""kit/provision/aws_reap.py: which tagged resources a reap selects, and in what order (pure parts).

The describe responses were captured from moto's server after two applies of terraform/aws: run
env-20250101-0a0a0a expired on 2025-01-01, run env-20300101-0b0b0b expires in 2030 (its client was
terminated before the capture), plus one VPC the kit did not make.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.provision import aws_reap

OLD, LIVE = "env-20250101-0a0a0a", "env-20300101-0b0b0b"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def found(data_dir: Path) -> list[aws_reap.Tagged]:
    captured = json.loads((data_dir / "aws" / "reap_describe.json").read_text())
    return aws_reap.parse(captured["responses"])


def test_everything_tagged_is_found_and_only_that(found: list[aws_reap.Tagged]) -> None:
    kinds = sorted(r.kind for r in found if r.run_id == OLD)
    assert kinds == sorted(
        [
            "instance",
            "instance",
            "key-pair",
            "volume",
            "volume",
            "security-group",
            "security-group",
            "internet-gateway",
            "subnet",
            "route-table",
            "vpc",
        ]
    )
    assert {r.run_id for r in found} == {OLD, LIVE}
    assert all(r.tags["Project"] == "serving-kit" for r in found)


def test_terminated_instances_are_not_listed(found: list[aws_reap.Tagged]) -> None:
    live_instances = [r for r in found if r.run_id == LIVE and r.kind == "instance"]
    assert len(live_instances) == 1 and live_instances[0].state == "running"


def test_attachments_are_read(found: list[aws_reap.Tagged]) -> None:
    old = {r.kind: r for r in found if r.run_id == OLD}
    assert old["internet-gateway"].attached == (old["vpc"].id,)
    assert len(old["route-table"].attached) == 1 and old["route-table"].attached[0].startswith("rtbassoc-")
    assert old["key-pair"].attached == (f"serving-kit-{OLD}",)


def test_expired_runs(found: list[aws_reap.Tagged]) -> None:
    assert aws_reap.expired_runs(found, NOW) == {OLD}
    assert aws_reap.expired_runs(found, datetime(2031, 1, 1, tzinfo=UTC)) == {OLD, LIVE}
    assert aws_reap.expired_runs(found, datetime(2024, 12, 31, tzinfo=UTC)) == set()


def test_select_expired_in_dependency_order(found: list[aws_reap.Tagged]) -> None:
    doomed = aws_reap.select(found, run_id=None, now=NOW)
    assert {r.run_id for r in doomed} == {OLD}
    assert len(doomed) == 11
    order = [r.kind for r in doomed]
    assert order == sorted(order, key=aws_reap.KINDS.index)
    assert order[0] == "instance" and order[-1] == "vpc"


def test_select_a_run_by_id_even_before_it_expires(found: list[aws_reap.Tagged]) -> None:
    doomed = aws_reap.select(found, run_id=LIVE, now=NOW)
    assert {r.run_id for r in doomed} == {LIVE} and len(doomed) == 9  # its client and root volume are gone
    assert aws_reap.select(found, run_id="env-nope", now=NOW) == []


def test_unreadable_expiry_is_never_reaped() -> None:
    odd = [
        aws_reap.Tagged("vpc", "vpc-1", {"Project": "serving-kit", "RunId": "env-x", "ExpiresAt": "soon"}),
        aws_reap.Tagged("vpc", "vpc-2", {"Project": "serving-kit", "ExpiresAt": "2020-01-01T00:00:00Z"}),
    ]
    assert aws_reap.select(odd, run_id=None, now=NOW) == []


def test_parse_time() -> None:
    assert aws_reap.parse_time("2030-01-01T04:00:00Z") == datetime(2030, 1, 1, 4, tzinfo=UTC)
    assert aws_reap.parse_time("2030-01-01T04:00:00") == datetime(2030, 1, 1, 4, tzinfo=UTC)
    assert aws_reap.parse_time("tomorrow") is None
