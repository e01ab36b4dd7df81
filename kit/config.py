"""Experiment configuration: TOML in, validated frozen objects out, plus a stable hash.

The hash covers everything that changes what a cell measures, so `kit compare` can refuse to
compare cells measured under different settings.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kit.errors import UsageError
from kit.ids import FRAMEWORKS, PAYLOADS, SCENARIOS

Arrival = Literal["constant", "poisson"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BenchSettings(Frozen):
    """How each cell is driven (DESIGN.md section 5)."""

    rates: tuple[float, ...] = Field(min_length=1)
    duration_s: float = Field(gt=0)
    warmup_s: float = Field(ge=0)
    repetitions: int = Field(ge=1)
    payloads: tuple[str, ...] = Field(min_length=1)
    arrival: Arrival = "constant"
    timeout_s: float = Field(default=10.0, gt=0)
    cooldown_s: float = Field(default=1.0, ge=0)
    keepalive: bool = True

    @field_validator("rates")
    @classmethod
    def _positive_rates(cls, rates: tuple[float, ...]) -> tuple[float, ...]:
        bad = [r for r in rates if r <= 0]
        if bad:
            raise ValueError(f"rates must be above 0 req/s, got {bad}")
        return rates

    @field_validator("payloads")
    @classmethod
    def _known_payloads(cls, payloads: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in payloads if p not in PAYLOADS]
        if bad:
            raise ValueError(f"unknown payload size {bad}; choose from {', '.join(PAYLOADS)}")
        return payloads


PROFILES: dict[str, BenchSettings] = {
    # Seconds, for tests and the demo: proves the path, measures little.
    "smoke": BenchSettings(rates=(50,), duration_s=5, warmup_s=2, repetitions=1, payloads=("small",)),
    # The IC2E 2024 study: HTTP/REST, 200 req/s for 60 s per cell, three payload sizes.
    "paper": BenchSettings(
        rates=(200,), duration_s=60, warmup_s=10, repetitions=3, payloads=("small", "medium", "large")
    ),
}


class LocalProvider(Frozen):
    """CPU sets are LXD ranges; the client and the servers never share a core."""

    client_cpu_set: str = "0-0"
    server_cpu_set: str = "1-1"
    client_memory_mb: int = Field(default=2048, ge=512)
    server_memory_mb: int = Field(default=4096, ge=1024)
    subnet_prefix: str = "10.78.0"


class FrameworkSettings(Frozen):
    """Recorded in the manifest for every run: the knobs that make a framework comparison fair."""

    workers: int = Field(default=1, ge=0)


class Config(Frozen):
    frameworks: tuple[str, ...] = ("mlserver",)
    scenarios: tuple[str, ...] = ("malware",)
    profile: str = "smoke"
    seed: int = 42
    bench: BenchSettings | None = None
    local: LocalProvider = LocalProvider()
    framework_settings: dict[str, FrameworkSettings] = Field(default_factory=dict)

    @field_validator("frameworks")
    @classmethod
    def _known_frameworks(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        return _known(ids, FRAMEWORKS, "framework")

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        return _known(ids, SCENARIOS, "scenario")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, name: str) -> str:
        if name not in PROFILES:
            raise ValueError(f"unknown profile '{name}'; choose from {', '.join(PROFILES)}")
        return name

    def bench_settings(self, profile: str | None = None) -> BenchSettings:
        """The profile's settings, with any [bench] table in the file laid over them."""
        base = PROFILES[profile or self.profile]
        if self.bench is None:
            return base
        return base.model_copy(update=self.bench.model_dump(exclude_unset=True))

    def settings_for(self, framework: str) -> FrameworkSettings:
        return self.framework_settings.get(framework, FrameworkSettings())

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _known(ids: tuple[str, ...], known: tuple[str, ...], kind: str) -> tuple[str, ...]:
    bad = [i for i in ids if i not in known]
    if bad:
        raise ValueError(f"unknown {kind} {', '.join(repr(b) for b in bad)}; choose from {', '.join(known)}")
    if not ids:
        raise ValueError(f"at least one {kind} is needed")
    return ids


class _BenchOverrides(BenchSettings):
    """A [bench] table may set any subset of the profile's fields."""

    rates: tuple[float, ...] = (1.0,)
    duration_s: float = Field(default=1.0, gt=0)
    warmup_s: float = Field(default=0.0, ge=0)
    repetitions: int = Field(default=1, ge=1)
    payloads: tuple[str, ...] = ("small",)


def load(path: Path | None) -> Config:
    """Read and validate a TOML config; no file means the defaults."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"config file {path} does not exist", "Pass an existing TOML file to --config"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"config file {path} is not valid TOML: {exc}", "Fix the syntax at the line named above"
        ) from None
    return from_dict(raw, source=str(path))


def from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    data = dict(raw)
    try:
        if "bench" in data:
            data["bench"] = _BenchOverrides(**data["bench"])
        if "frameworks_settings" in data:
            data["framework_settings"] = data.pop("frameworks_settings")
        return Config(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = first["msg"].removeprefix("Value error, ")
        raise UsageError(
            f"{source}: {where}: {msg}",
            "See README.md, section Configuration, for every key and its allowed values",
        ) from None
