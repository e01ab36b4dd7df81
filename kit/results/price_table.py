"""A dated table of EC2 on-demand prices (kit/results/prices/aws-ec2-<date>.json, or a newer one
kit.results.pricing wrote under the workspace), read and checked: what every price the kit shows
comes from, the AWS preflight's plan estimate, the report's cost and the local estimate alike."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.results.schema import check_version

PRICES_DIR = Path(__file__).with_name("prices")
TABLE_NAME = re.compile(r"^aws-ec2-(\d{4}-\d{2}-\d{2})\.json$")


@dataclass(frozen=True)
class PriceTable:
    as_of: str  # YYYY-MM-DD
    source: str
    path: Path
    usd_per_hour: Mapping[str, Mapping[str, float]]  # region -> instance type -> USD
    #: Instance type -> {"vcpus", "memory_gib"}: what the local estimate (kit.results.estimate) needs to
    #: price a vCPU and a GiB; a table written before specs were kept has none.
    specs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    sha256: str = ""  # of the file's bytes: two tables of one date (a refresh twice a day) differ here

    def price(self, region: str | None, instance_type: str | None) -> float | None:
        if not region or not instance_type:
            return None
        return self.usd_per_hour.get(region, {}).get(instance_type)

    @property
    def label(self) -> str:
        return f"{self.source}; table of {self.as_of} ({self.path.name})"

    def provenance(self) -> dict[str, str]:
        """What the manifest records of the table that priced a run (manifest.record_price_table)."""
        return {"file": self.path.name, "as_of": self.as_of, "source": self.source, "sha256": self.sha256}


def load_table(path: Path) -> PriceTable:
    """A price table file, checked: its schema version, its date and a number for every price."""
    try:
        raw = path.read_bytes()
        doc = json.loads(raw)
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
    specs = doc.get("specs", {})
    if not isinstance(specs, dict) or not all(_is_spec(v) for v in specs.values()):
        raise _bad_table(path, "`specs` must be {instance type: {vcpus: > 0, memory_gib: > 0}}")
    source = str(doc.get("source") or "unknown source")
    return PriceTable(doc["as_of"], source, path, regions, specs, hashlib.sha256(raw).hexdigest())


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(k), int | float) and value[k] > 0 for k in ("vcpus", "memory_gib")
    )


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
