"""A cell's load plan: what the engine on the client host sends, when, and for how long.

The plan is the whole contract with engine.py (which imports nothing from kit): a JSON document
that the orchestrator writes here and ships with the engine. Mistakes are refused here, with a
hint, rather than on the client host halfway through a bench.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kit import shipped
from kit.errors import UsageError
from kit.shipped import engine

ARRIVALS = ("constant", "poisson")
#: The phase that warms connections; it may schedule nothing, every other phase is measured.
WARMUP = "warmup"


@dataclass(frozen=True)
class Phase:
    name: str  # warmup | measure
    rate: float  # requests per second
    duration_s: float


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Plan:
    targets: Sequence[Target]  # requests cycle through these in order
    phases: Sequence[Phase]  # run back to back on one connection pool
    arrival: str = "constant"
    seed: int = 0
    timeout_s: float = 10.0
    keepalive: bool = True
    warm_connections: int = 4
    drain_s: float = 10.0
    # Load processes on the client host; 0: one per 2,000 req/s of the highest rate, at most one per core.
    processes: int = 0
    # Ask for real-time scheduling on the client host (granted to root on a VM, not in a container).
    realtime: bool = True
    # Every n-th measured request keeps its reply's body (beside the rows, engine.samples_path), for
    # the kit to compare with the model's outputs; 0: none.
    sample_every: int = 0

    def __post_init__(self) -> None:
        validate(self)

    def to_json(self) -> str:
        return json.dumps(
            {
                "targets": [_target_json(t) for t in self.targets],
                "phases": _phases_json(self.phases),
                "arrival": self.arrival,
                "seed": self.seed,
                "timeout_s": self.timeout_s,
                "keepalive": self.keepalive,
                "warm_connections": self.warm_connections,
                "drain_s": self.drain_s,
                "processes": self.processes,
                "realtime": self.realtime,
                "sample_every": self.sample_every,
            }
        )

    def seconds(self) -> float:
        """Scheduled seconds, drain not included: the orchestrator adds drain_s to its own timeout."""
        return sum(p.duration_s for p in self.phases)

    def schedule(self) -> list[tuple[str, float]]:
        """(phase, offset in s from t0) of every request: what the engine will send, and when, fixed
        by the plan and its seed before t0 (the engine draws it with this same function)."""
        return engine.schedule(_phases_json(self.phases), self.arrival, self.seed)

    def scheduled(self) -> dict[str, int]:
        """Requests the schedule holds per phase: under Poisson arrivals the draw's count, not rate x s."""
        counts = dict.fromkeys((p.name for p in self.phases), 0)
        for name, _ in self.schedule():
            counts[name] += 1
        return counts


def _phases_json(phases: Sequence[Phase]) -> list[dict[str, Any]]:
    return [{"name": p.name, "rate": p.rate, "duration_s": p.duration_s} for p in phases]


def _target_json(t: Target) -> dict[str, object]:
    # base64 because bodies may be binary (images, tensors) and JSON carries only text.
    return {
        "method": t.method,
        "url": t.url,
        "headers": dict(t.headers),
        "body_b64": base64.b64encode(t.body).decode(),
    }


def validate(plan: Plan) -> None:
    _validate_targets(plan.targets)
    _validate_phases(plan.phases)
    if plan.arrival not in ARRIVALS:
        raise UsageError(f"unknown arrival process '{plan.arrival}'", f"Choose one of: {', '.join(ARRIVALS)}")
    if plan.timeout_s <= 0:
        raise UsageError(
            f"request timeout {plan.timeout_s:g}s is not above zero", "Use a timeout above 0 seconds"
        )
    if plan.drain_s < 0:
        raise UsageError(f"drain time {plan.drain_s:g}s is negative", "Use 0 or more seconds")
    if plan.processes < 0:
        raise UsageError(
            f"{plan.processes} load processes is negative", "Use 0 (one per core as the rate needs) or more"
        )
    if plan.sample_every < 0:
        raise UsageError(f"sample_every {plan.sample_every} is negative", "Use 0 (no samples) or more")
    if plan.warm_connections < 0:
        raise UsageError(
            f"warm_connections {plan.warm_connections} is negative", "Use 0 (no warming) or more"
        )
    _validate_schedule(plan)


#: Above this many expected requests a phase cannot draw none (Poisson: a chance under e^-1000, below
#: the smallest double), so its schedule is not drawn just to check: at 20,000 req/s that takes 0.4 s.
SURE_TO_SEND = 1000.0


def _validate_schedule(plan: Plan) -> None:
    check_schedule(plan.phases, plan.arrival, plan.seed)


def check_schedule(phases: Sequence[Phase], arrival: str, seed: int) -> None:
    """A measured phase whose schedule holds no request would measure nothing and judge nothing (a
    seeded Poisson draw at a low rate over a short phase, or a constant rate under one request)."""
    if all(p.rate * p.duration_s >= SURE_TO_SEND for p in phases if p.name != WARMUP):
        return
    counts = dict.fromkeys((p.name for p in phases), 0)
    for name, _ in engine.schedule(_phases_json(phases), arrival, seed):
        counts[name] += 1
    empty = [p for p in phases if p.name != WARMUP and counts[p.name] == 0]
    if empty:
        p = empty[0]
        seeded = f" drawn with seed {seed}" if arrival == "poisson" else ""
        draw = f"the {arrival} schedule{seeded}"
        raise UsageError(
            f"phase {p.name} at {p.rate:g} req/s for {p.duration_s:g}s schedules no request ({draw})",
            "Use a higher rate or a longer duration: the phase needs at least one request to measure",
        )


def _validate_targets(targets: Sequence[Target]) -> None:
    if not targets:
        raise UsageError("the load plan has no target", "Give at least one URL to send requests to")
    for t in targets:
        parts = urlsplit(t.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"target URL '{t.url}' is not http(s)", "Use a URL such as http://10.78.0.23:8090/..."
            )
        if not t.method or not t.method.isalpha():
            raise UsageError(f"HTTP method '{t.method}' is not valid", "Use POST, GET or another HTTP verb")


def _validate_phases(phases: Sequence[Phase]) -> None:
    if not phases:
        raise UsageError("the load plan has no phase", "Give a measured phase with a rate and a duration")
    names = [p.name for p in phases]
    if len(set(names)) != len(names) or not all(names):
        # The engine reports per phase by name, and raw rows carry the name: it must say which phase.
        raise UsageError(
            f"phase names {names} are empty or repeated", "Name each phase once: warmup, measure"
        )
    for p in phases:
        if p.rate <= 0:
            raise UsageError(f"rate {p.rate:g} req/s is not above zero", "Use a rate above 0, e.g. --rate 50")
        if p.duration_s <= 0:
            raise UsageError(
                f"duration {p.duration_s:g}s of phase {p.name} is not above zero",
                "Use a duration above 0 seconds",
            )


def engine_path() -> Path:
    """engine.py, the file the orchestrator copies to the client host and runs there."""
    return shipped.ENGINE
