"""Dollars per million inferences: the server's hourly price over the highest sustainable rate.

    usd_per_million = usd_per_hour / (sustainable_rate * 3600) * 1e6

Only the server host is priced: the client host is measuring apparatus, not part of serving. The
sustainable rate of a (framework, scenario, payload) is, in order:
1. the SLO sweep's best rate (the manifest's `sweeps`), when a sweep ran: the highest target rate whose
   every repetition was valid, met the p99 SLO and failed at most 1 % of its requests;
2. otherwise the highest measured rate whose every repetition counted (valid, ok) and whose mean
   error rate is at most 1 %, at the rate it achieved. This is a lower bound of the capacity (the
   server was not pushed to its limit), and the table says so.

Prices come from a pinned, dated table (kit/results/prices/aws-ec2-<date>.json; kit.results.pricing
writes newer ones from the AWS Price List API). A host that is not an AWS instance (the local
provider's LXD containers) or an instance type the table lacks has no price, and its cost shows as
missing with the reason: never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from kit.errors import KitError
from kit.results.schema import check_version

PRICES_DIR = Path(__file__).with_name("prices")
TABLE_NAME = re.compile(r"^aws-ec2-(\d{4}-\d{2}-\d{2})\.json$")
MAX_ERROR_RATE = 0.01
SECONDS_PER_HOUR = 3600

COST_SCHEMA: dict[str, pl.DataType] = {
    "framework": pl.String(),
    "scenario": pl.String(),
    "payload": pl.String(),
    "instance_type": pl.String(),
    "region": pl.String(),
    "usd_per_hour": pl.Float64(),
    "sustainable_rate": pl.Float64(),
    "rate_source": pl.String(),
    "usd_per_million": pl.Float64(),
    "note": pl.String(),
}


@dataclass(frozen=True)
class PriceTable:
    as_of: str  # YYYY-MM-DD
    source: str
    path: Path
    usd_per_hour: Mapping[str, Mapping[str, float]]  # region -> instance type -> USD

    def price(self, region: str | None, instance_type: str | None) -> float | None:
        if not region or not instance_type:
            return None
        return self.usd_per_hour.get(region, {}).get(instance_type)

    @property
    def label(self) -> str:
        return f"{self.source}; table of {self.as_of} ({self.path.name})"


def load_table(path: Path) -> PriceTable:
    """A price table file, checked: its schema version, its date and a number for every price."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_table(path, str(exc).splitlines()[0]) from None
    if not isinstance(doc, dict):
        raise _bad_table(path, "not a JSON object")
    check_version(path, doc.get("schema_version"), doc.get("kit_version"))
    regions = doc.get("regions")
    # One condition, so that the type checker sees `regions` is a dict where the table is built.
    if (
        not isinstance(regions, dict)
        or not all(
            isinstance(types, dict) and all(isinstance(v, int | float) and v > 0 for v in types.values())
            for types in regions.values()
        )
        or not isinstance(doc.get("as_of"), str)
    ):
        raise _bad_table(path, "it needs `as_of` and `regions` {region: {instance type: USD per hour > 0}}")
    return PriceTable(doc["as_of"], str(doc.get("source") or "unknown source"), path, regions)


def newest_table(folders: Sequence[Path] = (PRICES_DIR,)) -> PriceTable:
    """The most recent table (by the date in its name) in these folders; the pinned one is always there."""
    found = sorted(
        (m.group(1), i, p)
        for i, folder in enumerate(folders)
        if folder.is_dir()
        for p in folder.iterdir()
        if (m := TABLE_NAME.match(p.name))
    )
    if not found:
        raise KitError(
            f"no price table (aws-ec2-<date>.json) in {', '.join(str(f) for f in folders)}",
            f"Restore the pinned table from the repository ({PRICES_DIR})",
        )
    return load_table(found[-1][2])


def _bad_table(path: Path, detail: str) -> KitError:
    return KitError(
        f"price table {path} is unusable ({detail})",
        "Delete it to fall back to the pinned table, or restore it from the repository",
    )


def server_host(manifest: Mapping[str, Any], framework: str) -> dict[str, Any]:
    """The facts of the framework's server host in the manifest ({} when the run recorded none)."""
    hosts: dict[str, Any] = manifest.get("hosts") or {}
    for name in (f"srv-{framework}", f"gpu-{framework}"):
        if isinstance(hosts.get(name), dict):
            return dict(hosts[name])
    return next(
        (dict(h) for h in hosts.values() if isinstance(h, dict) and h.get("framework") == framework), {}
    )


def region_of(manifest: Mapping[str, Any]) -> str | None:
    if manifest.get("provider") != "aws":
        return None
    aws = (manifest.get("config") or {}).get("aws") or {}
    return aws.get("region") if isinstance(aws, dict) else None


def sustainable_rates(groups: pl.DataFrame, sweeps: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per (framework, scenario, payload) of `groups` (aggregate.across_reps): the rate and its source."""
    out = []
    for (fw, sc, payload), part in groups.group_by(["framework", "scenario", "payload"], maintain_order=True):
        sweep = sweeps.get(f"{fw}/{sc}/{payload}")
        rate: float | None
        if isinstance(sweep, dict):
            rate = sweep.get("best_rate")
            slo = float(sweep.get("slo_p99_ms") or "nan")
            source = (
                f"sweep: highest rate with p99 <= {slo:g} ms"
                if rate is not None
                else f"sweep: no rate met p99 <= {slo:g} ms"
            )
        else:
            sound = part.filter(
                (pl.col("reps_counted") == pl.col("reps"))
                & (pl.col("reps") > 0)
                & (pl.col("error_rate") <= MAX_ERROR_RATE)
            ).sort("rate")
            rate = sound["achieved_rate"][-1] if sound.height else None
            source = (
                f"highest rate measured ({sound['rate'][-1]:g} req/s target; no sweep: a lower bound)"
                if sound.height
                else "no rate where every repetition counted with <= 1 % errors"
            )
        out.append(
            {
                "framework": fw,
                "scenario": sc,
                "payload": payload,
                "sustainable_rate": rate,
                "rate_source": source,
            }
        )
    return out


def cost_table(groups: pl.DataFrame, manifest: Mapping[str, Any] | None, table: PriceTable) -> pl.DataFrame:
    """One row per (framework, scenario, payload) with its price, rate and dollars per million."""
    if manifest is None or groups.height == 0:
        return pl.DataFrame(schema=COST_SCHEMA)
    region = region_of(manifest)
    rows = []
    for r in sustainable_rates(groups, manifest.get("sweeps") or {}):
        host = server_host(manifest, r["framework"])
        itype = host.get("instance_type")
        price = table.price(region, itype)
        rate = r["sustainable_rate"]
        per_million = price / (rate * SECONDS_PER_HOUR) * 1e6 if price is not None and rate else None
        if manifest.get("provider") != "aws":
            provider = manifest.get("provider")
            note = f"no price: a {provider} host ({itype or 'unknown type'}), not a cloud instance"
        elif price is None:
            note = f"no price for {itype} in {region} in the table of {table.as_of}"
        elif rate is None:
            note = "no sustainable rate"
        else:
            note = ""
        rows.append(
            {
                **r,
                "instance_type": itype,
                "region": region,
                "usd_per_hour": price,
                "usd_per_million": per_million,
                "note": note,
            }
        )
    return pl.DataFrame(rows, schema=COST_SCHEMA).sort(["framework", "scenario", "payload"])
