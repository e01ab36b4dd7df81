"""A cell's identity: (framework, scenario, payload, rate, repetition), and where its files go.

One cell is one measured phase of one repetition at one rate: one raw file, one telemetry file, one
manifest entry, one set of files on the hosts. Every place that names a cell takes a CellKey, so
that the five values never travel as loose arguments that could be passed in the wrong order.

Layout (docs/design.md section 4): results/<run>/{raw,telemetry}/<framework>/<scenario>/
<payload>/<rate>/rep<k>.parquet; the engine's CSV, its plan and the samplers' output lie beside the
raw file, named by the cell's id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


def rate_label(rate: float) -> str:
    """The folder name of a rate: "50" for 50.0 and "12.5" for 12.5, never "1e+06" as `:g` would."""
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"a rate must be a positive number of requests per second, got {rate!r}")
    return str(int(rate)) if float(rate).is_integer() else repr(float(rate))


@dataclass(frozen=True, order=True)
class CellKey:
    framework: str
    scenario: str
    payload: str
    rate: float
    rep: int

    def __post_init__(self) -> None:
        # A rate read back from JSON as 50 and one given as 50.0 name the same cell.
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "rep", int(self.rep))

    @classmethod
    def of(cls, mapping: Mapping[str, Any]) -> CellKey:
        """The key of a manifest cell (or any mapping holding the five fields)."""
        return cls(*(mapping[name] for name in FIELDS))

    @classmethod
    def from_path(cls, folder: Path, path: Path) -> CellKey | None:
        """The key of a per-cell file from its place under `folder` (raw/ or telemetry/), or None
        when its names do not parse."""
        parts = path.relative_to(folder).parts
        if len(parts) != 5:
            return None
        framework, scenario, payload, rate, name = parts
        try:
            rep = int(name.removeprefix("rep").removesuffix(".parquet"))
            return cls(framework, scenario, payload, float(rate), rep)
        except ValueError:
            return None

    @property
    def group(self) -> tuple[str, str, str, float]:
        """The key without its repetition: what repetitions are averaged over."""
        return self.framework, self.scenario, self.payload, self.rate

    @property
    def pair(self) -> tuple[str, str]:
        return self.framework, self.scenario

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def id(self, run_id: str) -> str:
        """The name of the cell's files beside its raw rows (engine CSV, plan, samples) and on the hosts."""
        return f"{run_id}-{self.framework}-{self.scenario}-{self.payload}-{self.rate:g}-rep{self.rep}"

    def _place(self) -> Path:
        rep_file = f"rep{self.rep}.parquet"
        return Path(self.framework, self.scenario, self.payload, rate_label(self.rate), rep_file)

    def raw_path(self, run_dir: Path) -> Path:
        return run_dir / "raw" / self._place()

    def telemetry_path(self, run_dir: Path) -> Path:
        return run_dir / "telemetry" / self._place()

    def __str__(self) -> str:
        return f"{self.framework}/{self.scenario} {self.payload} @ {self.rate:g} req/s rep {self.rep}"


#: The fields that name a cell, in the order of the raw rows' columns and the manifest's entries.
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CellKey))
