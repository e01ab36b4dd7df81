"""What the `study` bench profile recorded in a run's manifest, read into typed records.

The bench writes `manifest["study"]` (docs/design.md section 4): per framework x scenario x payload
its capacity at the p99 SLO (the sweep's best rate, confirmed by repetitions at that rate) with the
bracket the true capacity lies in, and per scenario x payload the common rate every framework of the
scenario was measured at. Readers of older runs, or of a study cut short, meet missing keys: each is
read as "not recorded" (None), never as a default figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kit.results.cells import CellKey

FOUND, UNCONFIRMED, NONE, CUT = "found", "unconfirmed", "none", "cut"


def study_of(man: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The manifest's study record, or None when the run was not a study."""
    doc = (man or {}).get("study")
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class Capacity:
    """One (framework, scenario, payload)'s capacity at its SLO: the highest rate met by the sweep's
    probe and by every confirmation, and the bracket [low, high) the true capacity lies in."""

    framework: str
    scenario: str
    payload: str
    slo_p99_ms: float | None
    lowest_rate_tried: float | None
    rate: float | None
    low: float | None
    # None with a rate: no rate was judged a miss (the rate cap held, or the client limited the
    # next probe): the capacity is a lower bound.
    high: float | None
    confirmed: bool
    outcome: str  # found | unconfirmed | none | cut | skipped | failed (kit/bench/study.py)
    why: str
    footprint: dict[str, Any] = field(default_factory=dict)
    floor: dict[str, Any] = field(default_factory=dict)

    @property
    def lower_bound(self) -> bool:
        return self.rate is not None and self.high is None

    def bracket(self) -> tuple[float, float | None] | None:
        """[low, high) for comparing capacities: no capacity at all lies in [0, lowest rate tried);
        a sweep cut before it met any rate has no bracket (None)."""
        if self.low is not None:
            return self.low, self.high
        if self.outcome == NONE and self.lowest_rate_tried is not None:
            return 0.0, self.lowest_rate_tried
        if self.outcome == UNCONFIRMED and self.high is not None:
            return 0.0, self.high  # its confirmation failed and no lower rate met
        return None

    def summary(self) -> str:
        """Why there is no capacity figure, in the words of the table ("" when there is one)."""
        if self.rate is not None:
            return ""
        if self.outcome == NONE:
            tried = self.lowest_rate_tried
            return f"no capacity at p99 ≤ {_g(self.slo_p99_ms)} ms" + (
                f", lowest rate tried {_g(tried)} req/s" if tried is not None else ""
            )
        return self.why or f"no capacity ({self.outcome})"


@dataclass(frozen=True)
class Common:
    """The common rate of one (scenario, payload): a stated fraction of the lowest capacity among
    its frameworks, measured for each of them with the repetitions `reps` (numbered 10 and up, so
    that they never share a cell with a sweep probe or a confirmation at the same rate)."""

    scenario: str
    payload: str
    rate: float | None
    fraction: float | None
    lowest_capacity: float | None
    of: str | None
    frameworks: tuple[str, ...]
    reps: tuple[int, ...]
    excluded: dict[str, str]
    why: str

    def keys(self, framework: str) -> list[CellKey]:
        if self.rate is None:
            return []
        return [CellKey(framework, self.scenario, self.payload, self.rate, r) for r in self.reps]

    def sentence(self) -> str:
        """How the rate was chosen: "12 req/s: 50 % of the lowest capacity, mlserver's 24 req/s"."""
        if self.rate is None:
            return "no common rate" + (f": {self.why}" if self.why else "")
        chosen = f"{_g(self.rate)} req/s"
        if self.fraction is not None and self.lowest_capacity is not None:
            who = f"{self.of}'s " if self.of else ""
            chosen += (
                f": {100 * self.fraction:g} % of the lowest capacity, {who}{_g(self.lowest_capacity)} req/s"
            )
        return chosen


def capacities(man: Mapping[str, Any] | None) -> dict[tuple[str, str, str], Capacity]:
    """(framework, scenario, payload) -> its capacity record, from the manifest's study."""
    doc = study_of(man) or {}
    out = {}
    for name, pair in (doc.get("pairs") or {}).items():
        parts = str(name).split("/")
        if len(parts) != 3 or not isinstance(pair, dict):
            continue
        cap = pair.get("capacity") or {}
        fw, sc, payload = parts
        out[(fw, sc, payload)] = Capacity(
            fw,
            sc,
            payload,
            slo_p99_ms=_num(pair.get("slo_p99_ms")),
            lowest_rate_tried=_num(pair.get("lowest_rate_tried")),
            rate=_num(cap.get("rate")),
            low=_num(cap.get("low")),
            high=_num(cap.get("high")),
            confirmed=bool(cap.get("confirmed")),
            outcome=str(cap.get("outcome") or (FOUND if cap.get("rate") is not None else CUT)),
            why=str(cap.get("why") or ""),
            footprint=dict(pair.get("footprint") or {}),
            floor=dict(pair.get("floor") or {}),
        )
    return out


def common_rates(man: Mapping[str, Any] | None) -> dict[tuple[str, str], Common]:
    """(scenario, payload) -> its common rate, from the manifest's study."""
    doc = study_of(man) or {}
    out = {}
    for name, c in (doc.get("common") or {}).items():
        parts = str(name).split("/")
        if len(parts) != 2 or not isinstance(c, dict):
            continue
        out[(parts[0], parts[1])] = Common(
            parts[0],
            parts[1],
            rate=_num(c.get("rate")),
            fraction=_num(c.get("fraction", doc.get("common_fraction"))),
            lowest_capacity=_num(c.get("lowest_capacity")),
            of=c.get("of"),
            frameworks=tuple(c.get("frameworks") or ()),
            reps=tuple(int(r) for r in c.get("reps") or ()),
            excluded={str(k): str(v) for k, v in (c.get("excluded") or {}).items()},
            why=str(c.get("why") or ""),
        )
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _g(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"
