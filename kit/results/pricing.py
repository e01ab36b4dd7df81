"""Refresh the price table from the AWS Price List Query API (boto3), when credentials exist.

The report works offline from the pinned table (kit/results/prices/); `kit report --refresh-prices`
asks AWS for today's On-Demand prices of every region the pinned table and the run name, and writes
them as a new dated table (`aws-ec2-<today>.json`) in the workspace (`.kit/prices/`), where the
report's newest-table lookup finds it. Without credentials nothing is asked and the pinned table is
used; the report's price line names the table and its date either way. The AWS preflight prices a
plan from the same newest table (`current_table`), so an estimate and a report never disagree.

What is asked: ServiceCode AmazonEC2, per region (`regionCode`) Linux, shared tenancy, no
pre-installed software, `capacitystatus` Used (the plain On-Demand price; the API also lists unused
capacity reservations and allocated hosts at other prices), and from each product its On-Demand
price per instance-hour in USD, and its `vcpu` and `memory` (the table's `specs`: the local estimate
prices a vCPU and a GiB from them). The Price List API answers in us-east-1 only among the kit's
regions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kit import __version__
from kit.errors import KitError
from kit.paths import Workspace
from kit.results.price_table import PRICES_DIR, PriceTable, load_table, newest_table
from kit.results.schema import SCHEMA_VERSION

PRICING_REGION = "us-east-1"
SOURCE = "AWS Price List Query API (get_products: AmazonEC2, Linux, shared tenancy, On-Demand)"
FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
}


def workspace_folder(ws: Workspace | None = None) -> Path:
    """Where refreshed tables are kept (`<workspace>/.kit/prices`): one folder for the report, the
    preflight and the bench's record of the table, so that all three see the same newest table."""
    return (ws or Workspace.current()).state / "prices"


def current_table(folder: Path | None) -> PriceTable:
    """The newest table of the pinned folder and the workspace's: what every price in the kit comes
    from (the AWS preflight's plan estimate, the report's cost, the manifest's `price_table`)."""
    return newest_table([PRICES_DIR] + ([folder] if folder is not None else []))


def has_credentials(session: Any = None) -> bool:
    """Whether boto3 finds credentials (environment, config files, instance role): nothing is sent."""
    import boto3

    return (session or boto3.Session()).get_credentials() is not None


def _on_demand(items: Iterable[str | Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], float]]:
    """(product attributes, USD per hour) of the entries that are plain On-Demand Linux, shared
    tenancy, hourly and above 0. Entries of another capacity status, OS, tenancy or unit are skipped,
    not guessed from."""
    wanted = {**FILTERS, "marketoption": "OnDemand"}
    for item in items:
        doc = json.loads(item) if isinstance(item, str) else item
        attrs = (doc.get("product") or {}).get("attributes") or {}
        if any(attrs.get(k, v) != v for k, v in wanted.items()) or not attrs.get("instanceType"):
            continue
        for term in ((doc.get("terms") or {}).get("OnDemand") or {}).values():
            for dim in (term.get("priceDimensions") or {}).values():
                usd = (dim.get("pricePerUnit") or {}).get("USD")
                if dim.get("unit") == "Hrs" and usd is not None and float(usd) > 0:
                    yield attrs, float(usd)


def parse_price_list(items: Iterable[str | Mapping[str, Any]]) -> dict[str, float]:
    """Instance type -> USD per hour from get_products' PriceList entries (JSON strings, as boto3 gives
    them)."""
    return dict(sorted({attrs["instanceType"]: usd for attrs, usd in _on_demand(items)}.items()))


def parse_specs(items: Iterable[str | Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Instance type -> {"vcpus", "memory_gib"} from the priced entries' `vcpu` and `memory` ("8 GiB");
    an entry without both, or in another unit, gives none."""
    specs: dict[str, dict[str, float]] = {}
    for attrs, _ in _on_demand(items):
        vcpus = str(attrs.get("vcpu", ""))
        number, _, unit = str(attrs.get("memory", "")).replace(",", "").partition(" ")
        try:
            gib = float(number)
        except ValueError:
            continue
        if vcpus.isdigit() and int(vcpus) > 0 and unit == "GiB" and gib > 0:
            specs[attrs["instanceType"]] = {"vcpus": int(vcpus), "memory_gib": gib}
    return dict(sorted(specs.items()))


def fetch_region(client: Any, region: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Every EC2 instance type's On-Demand Linux price in `region`, all pages, and their specs."""
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}] + [
        {"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in FILTERS.items()
    ]
    pages = client.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1"
    )
    entries = [entry for page in pages for entry in page.get("PriceList", [])]
    return parse_price_list(entries), parse_specs(entries)


def refresh(
    out_dir: Path,
    regions: Sequence[str],
    *,
    today: dt.date | None = None,
    session: Any = None,
    endpoint_url: str | None = None,
) -> PriceTable:
    """Fetch the regions' prices and write them as `out_dir/aws-ec2-<today>.json` (replaced atomically
    when refreshed twice a day). Raises KitError when there are no credentials or AWS refuses."""
    import boto3
    import botocore.exceptions

    session = session or boto3.Session()
    if not has_credentials(session):
        raise KitError(
            "no AWS credentials: prices cannot be refreshed",
            "Configure AWS credentials (aws configure), or run without --refresh-prices (pinned table)",
        )
    client = session.client("pricing", region_name=PRICING_REGION, endpoint_url=endpoint_url)
    fetched: dict[str, dict[str, float]] = {}
    specs: dict[str, dict[str, float]] = {}
    try:
        for region in sorted(set(regions)):
            fetched[region], found = fetch_region(client, region)
            specs.update(found)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise KitError(
            f"the AWS Price List API failed: {str(exc).splitlines()[0]}",
            "Check the network and the pricing:GetProducts permission; the pinned table is used meanwhile",
        ) from None
    empty = [r for r, p in fetched.items() if not p]
    if empty:
        raise KitError(
            f"the AWS Price List API returned no EC2 prices for {', '.join(empty)}",
            "Check the region names; the pinned table is used meanwhile",
        )
    return write_table(out_dir, fetched, today or dt.datetime.now(dt.UTC).date(), specs)


def write_table(
    out_dir: Path,
    prices: Mapping[str, Mapping[str, float]],
    day: dt.date,
    specs: Mapping[str, Mapping[str, float]] | None = None,
) -> PriceTable:
    """`out_dir/aws-ec2-<day>.json` in the pinned table's format, replaced atomically (a refresh twice
    a day keeps the later one), read back through the same checks as the pinned one."""
    date = day.isoformat()
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kit_version": __version__,
        "as_of": date,
        "source": SOURCE,
        "currency": "USD",
        "unit": "instance-hour",
        "regions": {region: dict(sorted(types.items())) for region, types in sorted(prices.items())},
        "specs_source": f"{SOURCE}: each product's vcpu and memory",
        "specs": {itype: dict(spec) for itype, spec in sorted((specs or {}).items())},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"aws-ec2-{date}.json"
    tmp = out_dir / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
    try:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return load_table(target)


def table_for_report(
    workspace_prices: Path | None, *, refresh_prices: bool, regions: Sequence[str]
) -> tuple[PriceTable, list[str]]:
    """The newest table of the pinned folder and the workspace's, after a refresh when one is asked
    for and possible, and a line for a refresh that did not happen: a report is never lost to it."""
    notes: list[str] = []
    if refresh_prices:
        if workspace_prices is None:
            notes.append("prices not refreshed: no workspace to keep a refreshed table in")
        elif not has_credentials():
            notes.append("prices not refreshed: no AWS credentials (the newest stored table is used)")
        else:
            try:
                refresh(workspace_prices, regions)
            except KitError as exc:
                notes.append(f"prices not refreshed: {exc.what}")
    return current_table(workspace_prices), notes
