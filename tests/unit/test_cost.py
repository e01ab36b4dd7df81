"""kit/results/cost.py: dollars per million inferences from a dated price table and measured rates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kit.errors import KitError
from kit.provision import aws_prices
from kit.results import analysis, cost

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def table() -> cost.PriceTable:
    return cost.load_table(cost.PRICES_DIR / "aws-ec2-2025-06-01.json")


def aws_run(tmp_path: Path, **manifest: Any) -> analysis.RunData:
    """The captured smoke run, as if its server had been a c6i.xlarge in us-east-1."""
    run = tmp_path / "results" / "smoke"
    shutil.copytree(DATA / "runs" / "smoke", run)
    doc = json.loads((run / "manifest.json").read_text())
    doc["provider"] = "aws"
    doc["config"]["aws"] = {"region": "us-east-1"}
    doc["hosts"]["srv-mlserver"]["instance_type"] = "c6i.xlarge"
    doc.update(manifest)
    (run / "manifest.json").write_text(json.dumps(doc))
    return analysis.analyse(run)


def test_the_pinned_table_is_dated_and_named(table: cost.PriceTable) -> None:
    assert table.as_of == "2025-06-01"
    assert table.label.endswith("; table of 2025-06-01 (aws-ec2-2025-06-01.json)")
    assert table.price("us-east-1", "c6i.xlarge") == 0.17
    assert table.price("eu-west-1", "c6i.xlarge") is None and table.price(None, "c6i.xlarge") is None


def test_the_preflight_and_the_report_price_alike(table: cost.PriceTable) -> None:
    # The preflight estimate (kit/provision/aws_prices.py) reads this same table: one source of prices.
    assert table.as_of == aws_prices.PRICES_AS_OF
    assert {r: dict(t) for r, t in table.usd_per_hour.items()} == aws_prices.INSTANCE_USD_PER_HOUR


def test_cost_from_the_highest_measured_rate(tmp_path: Path, table: cost.PriceTable) -> None:
    data = aws_run(tmp_path)
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["instance_type"], row["region"], row["usd_per_hour"]) == ("c6i.xlarge", "us-east-1", 0.17)
    assert row["sustainable_rate"] == pytest.approx(50.0)
    assert row["rate_source"] == "highest rate measured (50 req/s target; no sweep: a lower bound)"
    # 0.17 USD/h over 50 req/s * 3600 s = 180,000 inferences an hour: 0.9444 USD per million.
    assert row["usd_per_million"] == pytest.approx(0.17 / 180_000 * 1e6) == pytest.approx(0.94444, abs=1e-5)
    assert row["note"] == ""


def test_a_sweep_sets_the_sustainable_rate(tmp_path: Path, table: cost.PriceTable) -> None:
    sweeps = {"mlserver/malware/small": {"slo_p99_ms": 50.0, "best_rate": 400.0}}
    data = aws_run(tmp_path, sweeps=sweeps)
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["sustainable_rate"], row["rate_source"]) == (400.0, "sweep: highest rate with p99 <= 50 ms")
    assert row["usd_per_million"] == pytest.approx(0.17 / (400 * 3600) * 1e6)


def test_a_sweep_that_met_no_rate_gives_no_cost(tmp_path: Path, table: cost.PriceTable) -> None:
    data = aws_run(tmp_path, sweeps={"mlserver/malware/small": {"slo_p99_ms": 5.0, "best_rate": None}})
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["usd_per_million"], row["note"]) == (None, "no sustainable rate")
    assert row["rate_source"] == "sweep: no rate met p99 <= 5 ms"


def test_an_instance_type_the_table_lacks_has_no_price(tmp_path: Path, table: cost.PriceTable) -> None:
    data = aws_run(tmp_path)
    assert data.manifest is not None
    data.manifest["hosts"]["srv-mlserver"]["instance_type"] = "x2idn.32xlarge"
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["usd_per_hour"], row["usd_per_million"]) == (None, None)
    assert row["note"] == "no price for x2idn.32xlarge in us-east-1 in the table of 2025-06-01"


def test_a_local_run_has_no_instance_price(table: cost.PriceTable) -> None:
    data = analysis.analyse(DATA / "runs" / "smoke")
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["usd_per_hour"], row["usd_per_million"], row["region"]) == (None, None, None)
    assert row["sustainable_rate"] == pytest.approx(50.0)
    assert row["note"] == "no price: a local host (lxd-1cpu-4096mb), not a cloud instance"


def test_a_rate_with_an_uncounted_repetition_is_not_sustainable(table: cost.PriceTable) -> None:
    data = analysis.analyse(DATA / "raw_small")  # rep 1 invalid: the client, not the server, limited it
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert row["sustainable_rate"] is None
    assert row["rate_source"] == "no rate where every repetition counted with <= 1 % errors"


def test_no_manifest_or_no_rows_gives_an_empty_table(table: cost.PriceTable) -> None:
    data = analysis.analyse(DATA / "runs" / "smoke")
    assert cost.cost_table(data.groups, None, table).height == 0
    assert cost.cost_table(data.groups.clear(), data.manifest, table).height == 0


def test_the_newest_table_wins_and_a_bad_one_is_named(tmp_path: Path) -> None:
    newer = tmp_path / "aws-ec2-2030-01-01.json"
    doc = json.loads((cost.PRICES_DIR / "aws-ec2-2025-06-01.json").read_text())
    newer.write_text(json.dumps({**doc, "as_of": "2030-01-01"}))
    (tmp_path / "notes.json").write_text("{}")  # not a table's name: ignored
    assert cost.newest_table([cost.PRICES_DIR, tmp_path]).as_of == "2030-01-01"
    newer.write_text(json.dumps({**doc, "regions": {"us-east-1": {"c6i.xlarge": "cheap"}}}))
    with pytest.raises(KitError) as info:
        cost.newest_table([cost.PRICES_DIR, tmp_path])
    assert info.value.what == (
        f"price table {newer} is unusable (it needs `as_of` and `regions` "
        "{region: {instance type: USD per hour > 0}})"
    )
    with pytest.raises(KitError, match="no price table"):
        cost.newest_table([tmp_path / "nowhere"])


def test_cost_table_columns() -> None:
    data = analysis.analyse(DATA / "runs" / "smoke")
    got = cost.cost_table(data.groups, data.manifest, cost.newest_table())
    assert got.schema == pl.Schema(cost.COST_SCHEMA)
