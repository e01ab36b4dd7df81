"""kit/results/pricing.py: the Price List API's answer parsed, and a refreshed table written, offline.

Nothing here reaches AWS: the parser reads a page in the API's own shape (tests/data/pricing), and
the credential check runs with every credential source switched off."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kit.results import estimate, price_table, pricing

PAGE = Path(__file__).parent.parent / "data" / "pricing" / "get_products_us-east-1.json"


def test_the_parser_keeps_on_demand_linux_shared_prices_only() -> None:
    entries = json.loads(PAGE.read_text())["PriceList"]
    assert all(isinstance(e, str) for e in entries)  # boto3 hands each product over as a JSON string
    assert pricing.parse_price_list(entries) == {"c6i.2xlarge": 0.34, "c6i.xlarge": 0.17, "g5.xlarge": 1.006}


def test_specs_come_from_the_priced_entries_only() -> None:
    entries = json.loads(PAGE.read_text())["PriceList"]
    # The page's zero-priced c6i.large entry claims 4 vCPUs: it is skipped with its price.
    assert pricing.parse_specs(entries) == {
        "c6i.2xlarge": {"vcpus": 8, "memory_gib": 16.0},
        "c6i.xlarge": {"vcpus": 4, "memory_gib": 8.0},
        "g5.xlarge": {"vcpus": 4, "memory_gib": 16.0},
    }


def test_a_refreshed_table_reads_back_and_becomes_the_newest(tmp_path: Path) -> None:
    entries = json.loads(PAGE.read_text())["PriceList"]
    prices = pricing.parse_price_list(entries)
    table = pricing.write_table(
        tmp_path, {"us-east-1": prices}, dt.date(2031, 2, 3), pricing.parse_specs(entries)
    )
    assert table.path == tmp_path / "aws-ec2-2031-02-03.json"
    assert (table.as_of, table.source) == ("2031-02-03", pricing.SOURCE)
    assert table.price("us-east-1", "c6i.xlarge") == 0.17
    assert table.specs["c6i.xlarge"] == {"vcpus": 4, "memory_gib": 8.0}
    assert price_table.newest_table([price_table.PRICES_DIR, tmp_path]).path == table.path
    assert pricing.current_table(tmp_path).path == table.path
    assert [p.name for p in tmp_path.iterdir()] == ["aws-ec2-2031-02-03.json"]  # no temporary left
    # The local estimate works from a refreshed table too: its smallest c6i is c6i.xlarge here.
    rate = estimate.family_rate(table)
    assert isinstance(rate, estimate.FamilyRate)
    assert (rate.reference, rate.usd_per_vcpu_hour, rate.as_of) == ("c6i.xlarge", 0.0425, "2031-02-03")


def test_the_workspace_folder_is_the_one_the_report_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    assert pricing.workspace_folder() == tmp_path / ".kit" / "prices"
    assert pricing.current_table(None).path == price_table.PRICES_DIR / "aws-ec2-2025-06-01.json"


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup over the network


def test_without_credentials_nothing_is_asked_and_the_stored_table_is_used(
    tmp_path: Path, no_credentials: None
) -> None:
    assert pricing.has_credentials() is False
    table, notes = pricing.table_for_report(tmp_path / "prices", refresh_prices=True, regions=["us-east-1"])
    assert table.as_of == "2025-06-01"
    assert notes == ["prices not refreshed: no AWS credentials (the newest stored table is used)"]
    assert not (tmp_path / "prices").exists()


def test_without_a_refresh_the_newest_stored_table_is_used_silently(tmp_path: Path) -> None:
    doc = json.loads((price_table.PRICES_DIR / "aws-ec2-2025-06-01.json").read_text())
    (tmp_path / "aws-ec2-2029-12-31.json").write_text(json.dumps({**doc, "as_of": "2029-12-31"}))
    table, notes = pricing.table_for_report(tmp_path, refresh_prices=False, regions=["us-east-1"])
    assert (table.as_of, notes) == ("2029-12-31", [])
    table, notes = pricing.table_for_report(None, refresh_prices=True, regions=["us-east-1"])
    assert (table.as_of, notes) == (
        "2025-06-01",
        ["prices not refreshed: no workspace to keep a refreshed table in"],
    )
