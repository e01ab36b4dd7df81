"""kit/provision/aws_prices.py: the preflight's hourly estimate from the kit's newest dated table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.provision import aws_prices
from kit.results import price_table, pricing


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace of the test's own, with no refreshed table: the pinned one is the newest."""
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    return tmp_path


def test_default_cpu_plan() -> None:
    est = aws_prices.estimate("us-east-1", {"c6i.xlarge": 1, "c6i.2xlarge": 1}, volume_gb=30)
    # 0.17 + 0.34 instances, 2 x 30 GB gp3 at 0.08/GB-month over 730 h, 2 public IPv4 at 0.005/h.
    assert est.usd_per_hour == pytest.approx(0.17 + 0.34 + 2 * 30 * 0.08 / 730 + 2 * 0.005)
    assert round(est.usd_per_hour or 0, 4) == 0.5266
    assert est.usd_for(4) == pytest.approx(4 * (est.usd_per_hour or 0))
    assert [line.what for line in est.lines] == [
        "c6i.2xlarge instance",
        "c6i.xlarge instance",
        "30 GB gp3 root volume",
        "public IPv4 address",
    ]


def test_gpu_plan() -> None:
    est = aws_prices.estimate("us-east-1", {"c6i.xlarge": 1, "g5.xlarge": 1}, volume_gb=30)
    assert round(est.usd_per_hour or 0, 4) == round(0.17 + 1.006 + 2 * 30 * 0.08 / 730 + 0.01, 4) == 1.1926


def test_counts_multiply() -> None:
    est = aws_prices.estimate(
        "us-west-2", {"c6i.xlarge": 1, "c6i.2xlarge": 5}, volume_gb=50, volume_type="gp2"
    )
    assert est.usd_per_hour == pytest.approx(0.17 + 5 * 0.34 + 6 * 50 * 0.10 / 730 + 6 * 0.005)


def test_unpriced_parts_make_the_total_unknown() -> None:
    est = aws_prices.estimate("eu-west-1", {"c6i.xlarge": 1}, volume_gb=30)
    assert est.usd_per_hour is None and est.usd_for(4) is None
    assert est.unknown == ["c6i.xlarge instance", "30 GB gp3 root volume"]
    est = aws_prices.estimate("us-east-1", {"x2idn.32xlarge": 1}, volume_gb=30)
    assert est.unknown == ["x2idn.32xlarge instance"]


def test_the_table_is_dated() -> None:
    est = aws_prices.estimate("us-east-1", {"c6i.xlarge": 1}, volume_gb=30)
    assert (est.table.as_of, est.table.path) == (
        "2025-06-01",
        price_table.PRICES_DIR / "aws-ec2-2025-06-01.json",
    )


def test_a_refreshed_table_prices_the_plan_as_it_prices_the_report(workspace: Path) -> None:
    # The preflight read the pinned table only, the report the workspace's refreshed one when newer:
    # the same plan was estimated at one price and its run costed at another.
    doc = json.loads((price_table.PRICES_DIR / "aws-ec2-2025-06-01.json").read_text())
    doc["as_of"] = "2030-01-01"
    doc["regions"]["us-east-1"]["c6i.xlarge"] = 0.2
    folder = workspace / ".kit" / "prices"
    folder.mkdir(parents=True)
    (folder / "aws-ec2-2030-01-01.json").write_text(json.dumps(doc))
    est = aws_prices.estimate("us-east-1", {"c6i.xlarge": 1}, volume_gb=30)
    report_table, _ = pricing.table_for_report(folder, refresh_prices=False, regions=["us-east-1"])
    assert est.table.path == report_table.path == folder / "aws-ec2-2030-01-01.json"
    assert est.lines[0].unit_usd_per_hour == report_table.price("us-east-1", "c6i.xlarge") == 0.2
    # An explicit table (what kit up passes from its own workspace) wins over the current directory's.
    pinned = price_table.load_table(price_table.PRICES_DIR / "aws-ec2-2025-06-01.json")
    assert (
        aws_prices.estimate("us-east-1", {"c6i.xlarge": 1}, volume_gb=30, table=pinned)
        .lines[0]
        .unit_usd_per_hour
        == 0.17
    )
