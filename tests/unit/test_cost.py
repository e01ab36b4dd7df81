"""kit/results/cost.py: dollars per million requests and per million inferences from a dated price
table, the instances each request carried and measured rates; kit/results/estimate.py: the local
host's estimate."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kit import config
from kit.errors import KitError
from kit.results import analysis, cost, estimate, manifest, price_table

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def table() -> price_table.PriceTable:
    return price_table.load_table(price_table.PRICES_DIR / "aws-ec2-2025-06-01.json")


def aws_run(tmp_path: Path, **manifest: Any) -> analysis.RunData:
    """The captured smoke run, as if its server had been a c6i.xlarge in us-east-1."""
    run = tmp_path / "results" / "smoke"
    shutil.copytree(DATA / "runs" / "smoke", run)
    doc = json.loads((run / "manifest.json").read_text())
    doc["provider"] = "aws"
    doc["config"]["aws"] = {"region": "us-east-1"}
    doc["hosts"]["srv-mlserver"]["instance_type"] = "c6i.xlarge"
    doc["payload_instances"] = {"malware": {"small": 1, "medium": 10, "large": 100}}
    doc.update(manifest)
    (run / "manifest.json").write_text(json.dumps(doc))
    return analysis.analyse(run)


def test_the_pinned_table_is_dated_and_named(table: price_table.PriceTable) -> None:
    assert table.as_of == "2025-06-01"
    assert table.label.endswith("; table of 2025-06-01 (aws-ec2-2025-06-01.json)")
    assert table.price("us-east-1", "c6i.xlarge") == 0.17
    assert table.price("eu-west-1", "c6i.xlarge") is None and table.price(None, "c6i.xlarge") is None
    assert table.specs["c6i.large"] == {"vcpus": 2, "memory_gib": 4}
    assert set(table.specs) == set(table.usd_per_hour["us-east-1"])  # every priced type has its specs


def test_the_manifest_records_the_table_that_priced_the_run(table: price_table.PriceTable) -> None:
    man = manifest.new_manifest(
        run_id="r", kit_version="0", git_sha="x", config={}, config_hash="h", provider="local"
    )
    manifest.record_price_table(man, table)
    assert man["price_table"] == {
        "file": "aws-ec2-2025-06-01.json",
        "as_of": "2025-06-01",
        "source": table.source,
        "sha256": hashlib.sha256(table.path.read_bytes()).hexdigest(),
    }


def test_cost_from_the_highest_measured_rate(tmp_path: Path, table: price_table.PriceTable) -> None:
    data = aws_run(tmp_path)
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["instance_type"], row["region"], row["usd_per_hour"]) == ("c6i.xlarge", "us-east-1", 0.17)
    assert row["sustainable_rate"] == pytest.approx(50.0)
    assert row["rate_source"] == "highest rate measured (50 req/s target; no sweep: a lower bound)"
    assert (row["price_kind"], row["price_basis"]) == (
        "instance",
        "c6i.xlarge on demand in us-east-1, table of 2025-06-01",
    )
    # 0.17 USD/h over 50 req/s * 3600 s = 180,000 requests an hour: 0.9444 USD per million requests,
    # and per million inferences too: a small malware request carries one instance.
    assert (
        row["usd_per_million_requests"]
        == pytest.approx(0.17 / 180_000 * 1e6)
        == pytest.approx(0.94444, abs=1e-5)
    )
    assert (row["instances_per_request"], row["usd_per_million_inferences"]) == (
        1,
        row["usd_per_million_requests"],
    )
    assert row["note"] == ""


def test_a_request_of_several_instances_costs_less_per_inference(
    tmp_path: Path, table: price_table.PriceTable
) -> None:
    # Dividing by requests overstated an inference's cost by the instances per request (10 and 100
    # for malware's medium and large payloads): the count recorded in the manifest divides it here.
    data = aws_run(tmp_path, payload_instances={"malware": {"small": 10, "medium": 10, "large": 100}})
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert row["instances_per_request"] == 10
    assert row["usd_per_million_inferences"] == pytest.approx(row["usd_per_million_requests"] / 10)
    assert row["usd_per_million_inferences"] == pytest.approx(0.094444, abs=1e-6)


def test_a_run_without_recorded_counts_takes_them_from_the_registry_and_says_so(
    tmp_path: Path, table: price_table.PriceTable
) -> None:
    data = aws_run(tmp_path)
    assert data.manifest is not None
    del data.manifest["payload_instances"]
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert row["instances_per_request"] == 1
    assert row["note"] == (
        "1 instance(s) per request from today's scenario registry: this run's manifest predates recording them"
    )


def test_an_unknown_instance_count_gives_no_cost_per_inference(
    tmp_path: Path, table: price_table.PriceTable
) -> None:
    data = aws_run(tmp_path, payload_instances={"malware": {"medium": 10}})
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["instances_per_request"], row["usd_per_million_inferences"]) == (None, None)
    assert row["usd_per_million_requests"] == pytest.approx(0.94444, abs=1e-5)  # still a cost per request
    assert row["note"] == "no instance count for malware small in the manifest: no cost per inference"
    assert cost.instances_per_request({}, "fraud", "small") == (
        None,
        "no instance count for fraud small (unknown scenario 'fraud'): no cost per inference",
    )


def test_a_sweep_sets_the_sustainable_rate(tmp_path: Path, table: price_table.PriceTable) -> None:
    sweeps = {"mlserver/malware/small": {"slo_p99_ms": 50.0, "best_rate": 400.0}}
    data = aws_run(tmp_path, sweeps=sweeps)
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["sustainable_rate"], row["rate_source"]) == (400.0, "sweep: highest rate with p99 <= 50 ms")
    assert row["usd_per_million_requests"] == pytest.approx(0.17 / (400 * 3600) * 1e6)


def test_a_sweep_that_met_no_rate_gives_no_cost(tmp_path: Path, table: price_table.PriceTable) -> None:
    data = aws_run(tmp_path, sweeps={"mlserver/malware/small": {"slo_p99_ms": 5.0, "best_rate": None}})
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["usd_per_million_requests"], row["usd_per_million_inferences"]) == (None, None)
    assert row["note"] == "no sustainable rate"
    assert row["rate_source"] == "sweep: no rate met p99 <= 5 ms"


def test_an_instance_type_the_table_lacks_has_no_price(tmp_path: Path, table: price_table.PriceTable) -> None:
    data = aws_run(tmp_path)
    assert data.manifest is not None
    data.manifest["hosts"]["srv-mlserver"]["instance_type"] = "x2idn.32xlarge"
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["usd_per_hour"], row["usd_per_million_inferences"], row["price_kind"]) == (None, None, None)
    assert row["note"] == "no price for x2idn.32xlarge in us-east-1 in the table of 2025-06-01"


def test_a_local_host_is_priced_as_an_estimate(table: price_table.PriceTable) -> None:
    # Local runs printed "no price": the captured smoke run's server (1 CPU, 4096 MB) is priced as the
    # c6i capacity that holds it: 4 GiB at 2 GiB per vCPU is 2 vCPUs' worth at 0.085/2 USD each.
    data = analysis.analyse(DATA / "runs" / "smoke")
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert (row["usd_per_hour"], row["price_kind"], row["region"]) == (0.085, "estimate", None)
    assert row["price_basis"] == (
        "estimate: 1 vCPU, 4 GiB priced as 2 c6i vCPU-hours an hour (memory binds) in us-east-1, table of 2025-06-01"
    )
    assert row["sustainable_rate"] == pytest.approx(50.0)
    assert (
        row["usd_per_million_requests"]
        == pytest.approx(0.085 / (50 * 3600) * 1e6)
        == pytest.approx(0.47222, abs=1e-5)
    )
    assert row["usd_per_million_inferences"] == row["usd_per_million_requests"]  # one instance a request


def test_the_estimate_method(table: price_table.PriceTable) -> None:
    rate = estimate.family_rate(table)
    assert isinstance(rate, estimate.FamilyRate)
    assert (rate.reference, rate.usd_per_vcpu_hour, rate.gib_per_vcpu) == ("c6i.large", 0.0425, 2.0)
    assert rate.method == (
        "c6i, AWS's compute-optimised family, on demand in us-east-1, table of 2025-06-01: c6i.large at "
        "$0.085/h is $0.0425 per vCPU-hour with 2 GiB per vCPU, so a host costs max(vCPUs, GiB / 2) × "
        "$0.0425 an hour (one host CPU counted as one vCPU)"
    )
    assert estimate.host_estimate({"cpus": 4, "memory_mb": 2048}, rate)[0] == pytest.approx(
        0.17
    )  # vCPUs bind
    # The local estimate prices the capacity an AWS run of the kit would get by default.
    assert config.AwsProvider().server_instance_type.split(".")[0] == estimate.ESTIMATE_FAMILY


@pytest.mark.parametrize(
    ("host", "why"),
    [
        (
            {"name": "srv-x", "cpus": 1, "memory_mb": 4096, "gpu": True},
            "no price: srv-x has a GPU, and c6i has none to price it by",
        ),
        (
            {"name": "srv-x", "memory_mb": 4096},
            "no price: the manifest does not record srv-x's CPUs and memory (cpus, memory_mb)",
        ),
        (
            {"name": "srv-x", "cpus": 0, "memory_mb": 4096},
            "no price: the manifest does not record srv-x's CPUs and memory (cpus, memory_mb)",
        ),
    ],
)
def test_a_local_host_that_cannot_be_estimated_says_why(
    host: dict[str, Any], why: str, table: price_table.PriceTable
) -> None:
    assert estimate.host_estimate(host, estimate.family_rate(table)) == (None, why)


def test_a_table_without_the_family_gives_a_labelled_no_price(tmp_path: Path) -> None:
    doc = json.loads((price_table.PRICES_DIR / "aws-ec2-2025-06-01.json").read_text())
    doc["specs"] = {t: s for t, s in doc["specs"].items() if not t.startswith("c6i.")}
    path = tmp_path / "aws-ec2-2030-01-01.json"
    path.write_text(json.dumps(doc))
    data = analysis.analyse(DATA / "runs" / "smoke")
    row = cost.cost_table(data.groups, data.manifest, price_table.load_table(path)).row(0, named=True)
    assert (row["usd_per_hour"], row["price_kind"], row["usd_per_million_inferences"]) == (None, None, None)
    assert row["note"].startswith(
        "no price: the table of 2025-06-01 (aws-ec2-2030-01-01.json) has no c6i size with its vCPUs and "
        "memory in us-east-1, which the local estimate is priced from"
    )


def test_a_rate_with_an_uncounted_repetition_is_not_sustainable(table: price_table.PriceTable) -> None:
    data = analysis.analyse(DATA / "raw_small")  # rep 1 invalid: the client, not the server, limited it
    row = cost.cost_table(data.groups, data.manifest, table).row(0, named=True)
    assert row["sustainable_rate"] is None
    assert row["rate_source"] == "no rate where every repetition counted with <= 1 % errors"


def test_no_manifest_or_no_rows_gives_an_empty_table(table: price_table.PriceTable) -> None:
    data = analysis.analyse(DATA / "runs" / "smoke")
    assert cost.cost_table(data.groups, None, table).height == 0
    assert cost.cost_table(data.groups.clear(), data.manifest, table).height == 0


def test_the_newest_table_wins_and_a_bad_one_is_named(tmp_path: Path) -> None:
    newer = tmp_path / "aws-ec2-2030-01-01.json"
    doc = json.loads((price_table.PRICES_DIR / "aws-ec2-2025-06-01.json").read_text())
    newer.write_text(json.dumps({**doc, "as_of": "2030-01-01"}))
    (tmp_path / "notes.json").write_text("{}")  # not a table's name: ignored
    assert price_table.newest_table([price_table.PRICES_DIR, tmp_path]).as_of == "2030-01-01"
    newer.write_text(json.dumps({**doc, "regions": {"us-east-1": {"c6i.xlarge": "cheap"}}}))
    with pytest.raises(KitError) as info:
        price_table.newest_table([price_table.PRICES_DIR, tmp_path])
    assert info.value.what == (
        f"price table {newer} is unusable (it needs `as_of` and `regions` "
        "{region: {instance type: USD per hour > 0}})"
    )
    with pytest.raises(KitError, match="no price table"):
        price_table.newest_table([tmp_path / "nowhere"])


def test_cost_table_columns() -> None:
    data = analysis.analyse(DATA / "runs" / "smoke")
    got = cost.cost_table(data.groups, data.manifest, price_table.newest_table())
    assert got.schema == pl.Schema(cost.COST_SCHEMA)
