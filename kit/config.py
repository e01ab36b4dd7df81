"""Experiment configuration: TOML in, validated frozen objects out, plus a stable hash.

The hash covers everything that changes what a cell measures, so `kit compare` can refuse to
compare cells measured under different settings.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kit.errors import UsageError
from kit.ids import FRAMEWORKS, PAYLOADS, SCENARIOS

Arrival = Literal["constant", "poisson"]
Engine = Literal["kit", "vegeta"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BenchSettings(Frozen):
    """How each cell is driven (docs/design.md section 5)."""

    rates: tuple[float, ...] = Field(min_length=1)
    duration_s: float = Field(gt=0)
    warmup_s: float = Field(ge=0)
    repetitions: int = Field(ge=1)
    payloads: tuple[str, ...] = Field(min_length=1)
    arrival: Arrival = "constant"
    timeout_s: float = Field(default=10.0, gt=0)
    cooldown_s: float = Field(default=1.0, ge=0)
    # After a cell whose server stopped answering: how long to wait for it to serve again (systemd
    # restarts a killed framework) before the pair's remaining cells are recorded as failed.
    recover_s: float = Field(default=120.0, ge=0)
    # Between pairs, a server left overloaded, failed or gone is restarted: how long `systemctl
    # restart` may take before the unit's processes are killed (SIGKILL) and it is started again.
    restart_s: float = Field(default=60.0, gt=0)
    keepalive: bool = True
    # kit: the open-loop engine (kit/shipped/engine.py); vegeta: vegeta's binary on the client host.
    engine: Engine = "kit"
    # Load processes on the client host; 0: one per 2,000 req/s of the rate, at most one per core.
    processes: int = Field(default=0, ge=0)
    # The kit's engine asks for real-time scheduling on the client host where that is allowed.
    realtime: bool = True
    # Instead of `rates`: find the highest rate whose p99 meets slo_p99_ms (kit/bench/protocol.py).
    sweep: bool = False
    slo_p99_ms: float | None = Field(default=None, gt=0)
    sweep_max_rate: float = Field(default=20000.0, gt=0)
    sweep_max_probes: int = Field(default=8, ge=1)
    sweep_precision: float = Field(default=0.05, gt=0, lt=1)
    # A probe whose tail is unproven (too few requests to show p99 <= SLO, kit/results/tail.py) gets
    # up to this many more repetitions, pooled, before it counts as a miss.
    sweep_extend_reps: int = Field(default=2, ge=0)
    # The study (kit/bench/study.py): per pair the SLO sweep, `confirm_reps` repetitions at the rate it
    # found, then every framework of a scenario at `common_fraction` of the lowest capacity among them.
    study: bool = False
    # The p99 SLO of each scenario; `slo_p99_ms`, when given, overrides every one of them.
    slo_by_scenario: dict[str, float] = Field(default_factory=dict)
    confirm_reps: int = Field(default=3, ge=1)
    # Before each pair's sweep: this many cold starts (stop, start, first correct prediction), then
    # the service's memory and CPU over `idle_s` seconds at idle (kit/bench/footprint.py); 0: none.
    cold_starts: int = Field(default=3, ge=0)
    idle_s: float = Field(default=5.0, gt=0)
    common_reps: int = Field(default=3, ge=1)
    common_fraction: float = Field(default=0.5, gt=0, le=1)
    # A measured phase lasts at least long enough to hold this many requests at its rate (an SLO
    # verdict needs them: kit/results/tail.py), up to `max_duration_s`. A sweep's phases hold at
    # least the tail rule's least count whatever this says.
    min_requests: int = Field(default=0, ge=0)
    max_duration_s: float = Field(default=120.0, gt=0)
    # Every n-th measured request keeps its reply, compared with the model's own outputs (the kit's
    # engine only; 0: none): kit/bench/outputs.py.
    sample_every: int = Field(default=50, ge=0)
    # CPU, memory and GPU of the server's framework and of the client, sampled during every cell.
    telemetry: bool = True
    telemetry_interval_s: float = Field(default=1.0, gt=0)
    # Scenarios of `kit bench all`; empty: the config's `scenarios`.
    scenarios: tuple[str, ...] = ()

    @field_validator("scenarios")
    @classmethod
    def _known_bench_scenarios(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        bad = [i for i in ids if i not in SCENARIOS]
        if bad:
            raise ValueError(f"unknown scenario {bad}; choose from {', '.join(SCENARIOS)}")
        return ids

    @field_validator("slo_by_scenario")
    @classmethod
    def _scenario_slos(cls, slos: dict[str, float]) -> dict[str, float]:
        bad = [i for i in slos if i not in SCENARIOS]
        if bad:
            raise ValueError(f"unknown scenario {bad}; choose from {', '.join(SCENARIOS)}")
        low = {k: v for k, v in slos.items() if v <= 0}
        if low:
            raise ValueError(f"an SLO must be above 0 ms, got {low}")
        return slos

    def slo_for(self, scenario: str) -> float | None:
        """The p99 SLO (ms) a sweep of `scenario` is judged against: --slo-p99-ms, else the scenario's."""
        return self.slo_p99_ms if self.slo_p99_ms is not None else self.slo_by_scenario.get(scenario)

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


#: The study's p99 SLOs, what a user of each kind of model would ask of an interactive API on a CPU
#: host: the two small tabular models in a tenth of a second, the text CNN in a fifth, MobileNetV2 on a
#: 224x224 image in half a second. `--slo-p99-ms` (or [bench] slo_p99_ms) overrides them all.
STUDY_SLO_P99_MS = {"malware": 100.0, "crypto": 100.0, "sentiment": 200.0, "image": 500.0}

PROFILES: dict[str, BenchSettings] = {
    # The kit's answer (the default): per framework x scenario the capacity at each scenario's p99 SLO
    # (a sweep of Poisson arrivals from 5 req/s, to within 10 %, confirmed by 3 repetitions), then
    # every framework at half the scenario's lowest capacity, 3 repetitions. Each measured phase holds
    # at least 300 requests (the least a p99 verdict rests on: kit/results/tail.py) and lasts >= 10 s.
    "study": BenchSettings(
        rates=(5,),
        duration_s=10,
        warmup_s=3,
        repetitions=1,
        payloads=("small",),
        arrival="poisson",
        sweep=True,
        study=True,
        slo_by_scenario=STUDY_SLO_P99_MS,
        sweep_max_rate=5000.0,
        sweep_max_probes=14,
        sweep_precision=0.1,
        min_requests=300,
        max_duration_s=120.0,
    ),
    # Seconds, for tests and the demo: proves the path, measures little. 10 req/s is within what
    # every framework serves on one core for the three small models (MLflow's and MLServer's Keras
    # pyfunc costs ~45 ms a call): at 50 they queued to 10 s timeouts, and the demo spent its
    # minutes waiting for servers to drain backlogs instead of measuring.
    "smoke": BenchSettings(rates=(10,), duration_s=5, warmup_s=2, repetitions=1, payloads=("small",)),
    # The IC2E 2024 study: HTTP/REST, 200 req/s for 60 s per cell, three payload sizes, every scenario.
    "paper": BenchSettings(
        rates=(200,),
        duration_s=60,
        warmup_s=10,
        repetitions=3,
        payloads=("small", "medium", "large"),
        scenarios=SCENARIOS,
    ),
}


class LocalProvider(Frozen):
    """CPU sets are LXD ranges; the client and the servers never share a core."""

    client_cpu_set: str = "0-0"
    server_cpu_set: str = "1-1"
    client_memory_mb: int = Field(default=2048, ge=512)
    server_memory_mb: int = Field(default=4096, ge=1024)
    subnet_prefix: str = "10.78.0"


INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
REGION = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$"


class AwsProvider(Frozen):
    """The [aws] table: where and on what the aws provider runs (README.md, section AWS)."""

    region: str = "us-east-1"
    # Compute-optimised client so load generation is never the bottleneck; servers twice its size.
    client_instance_type: str = "c6i.xlarge"
    server_instance_type: str = "c6i.2xlarge"
    gpu_server_instance_type: str = "g5.xlarge"
    # Hours until ExpiresAt: each host's dead-man timer terminates it then, `kit reap` deletes the rest.
    ttl_hours: float = Field(default=4, gt=0, le=72)
    # Empty: detected (your public address as a /32).
    operator_cidr: str = ""
    # Empty: the IAM user or session name of the credentials.
    owner: str = ""
    root_volume_gb: int = Field(default=30, ge=8, le=2048)
    # An AWS API emulator's URL (moto); empty in production.
    endpoint: str = ""
    # Filesystem mirror holding registry.terraform.io/hashicorp/aws; empty: looked for, else downloaded.
    provider_mirror: str = ""

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(REGION, value):
            raise ValueError(f"'{value}' is not an AWS region name (such as us-east-1)")
        return value

    @field_validator("client_instance_type", "server_instance_type", "gpu_server_instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not re.fullmatch(INSTANCE_TYPE, value):
            raise ValueError(f"'{value}' is not an EC2 instance type (such as c6i.xlarge)")
        return value

    @field_validator("operator_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        if not value:
            return value
        try:
            net = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            raise ValueError(f"'{value}' is not an IPv4 address or CIDR block") from None
        if net.prefixlen < 16:
            raise ValueError(f"'{value}' is wider than /16: SSH must be open to your address only")
        return str(net)

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"'{value}' is not an http(s):// URL")
        return value.rstrip("/")


class FrameworkSettings(Frozen):
    """Recorded in the manifest for every run: the knobs that make a framework comparison fair."""

    workers: int = Field(default=1, ge=0)


class Config(Frozen):
    frameworks: tuple[str, ...] = FRAMEWORKS
    scenarios: tuple[str, ...] = SCENARIOS
    profile: str = "study"
    seed: int = 42
    bench: BenchSettings | None = None
    local: LocalProvider = LocalProvider()
    aws: AwsProvider = AwsProvider()
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
