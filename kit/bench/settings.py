"""What `kit bench` was asked: the profile with the config's [bench] and the command line's options
laid over it, and the (framework, scenario) pairs to run. Every mistake is refused here, before any
host is touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit.bench import protocol, slo
from kit.config import BenchSettings, Config
from kit.errors import UsageError
from kit.ids import SCENARIOS, require_framework, require_scenario

#: The command line flag of each bench override, to name them in errors.
FLAGS = {
    "engine": "--engine",
    "rates": "--rate",
    "duration_s": "--duration",
    "repetitions": "--reps",
    "sweep": "--sweep",
    "slo_p99_ms": "--slo-p99-ms",
    "arrival": "--arrival",
}


@dataclass(frozen=True)
class Request:
    """`kit bench FRAMEWORK [SCENARIO]` as typed: FRAMEWORK may be `all`; `overrides` holds the
    options given (None or () for those not given), keyed like BenchSettings' fields."""

    framework: str
    scenario: str | None = None
    profile: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    resume: str | None = None


def resolve(cfg: Config, profile: str | None, overrides: dict[str, Any] | None = None) -> BenchSettings:
    """The profile's settings with the config's [bench] and the command line's options over them."""
    settings = protocol.resolve(cfg.bench_settings(profile), overrides)
    if settings.sweep and settings.slo_p99_ms is None and not settings.slo_by_scenario:
        raise UsageError("a sweep needs an SLO", "Give --slo-p99-ms with --sweep, e.g. --slo-p99-ms 100")
    if settings.study and settings.repetitions + settings.confirm_reps > slo.COMMON_REP:
        raise UsageError(
            f"the study numbers a probe's repetitions and its confirmations below {slo.COMMON_REP}: "
            f"{settings.repetitions} + {settings.confirm_reps} is too many",
            f"Keep repetitions + confirm_reps at most {slo.COMMON_REP}",
        )
    if settings.study and settings.common_reps > slo.EXTEND_REP - slo.COMMON_REP:
        raise UsageError(
            f"the study numbers its common-rate repetitions {slo.COMMON_REP}-{slo.EXTEND_REP - 1}: "
            f"{settings.common_reps} is too many",
            f"Keep common_reps at most {slo.EXTEND_REP - slo.COMMON_REP}",
        )
    if settings.study and not settings.sweep:
        raise UsageError(
            "the study finds each pair's capacity with the SLO sweep: it cannot run with sweep = false",
            "Remove `sweep = false` from the config's [bench] table, or bench another profile",
        )
    if settings.engine == "vegeta" and settings.arrival != "constant":
        raise UsageError(
            "vegeta paces at a constant rate only",
            "Use --arrival constant with --engine vegeta, or --engine kit for Poisson arrivals",
        )
    return settings


def require_slos(settings: BenchSettings, pairs: list[tuple[str, str]]) -> None:
    """Every scenario a sweep measures has a p99 SLO to be judged against."""
    if not settings.sweep:
        return
    missing = sorted({sc for _, sc in pairs if settings.slo_for(sc) is None})
    if missing:
        raise UsageError(
            f"a sweep needs an SLO: none is set for {', '.join(missing)}",
            "Give --slo-p99-ms, or set [bench] slo_by_scenario in the config",
        )


def all_pairs(cfg: Config, profile: str | None = None) -> list[tuple[str, str]]:
    """`kit bench all`: every configured framework x the profile's scenarios (else the config's)."""
    chosen = cfg.bench_settings(profile).scenarios or cfg.scenarios
    return [(fw, sc) for fw in cfg.frameworks for sc in chosen]


def pairs_for(cfg: Config, request: Request) -> list[tuple[str, str]]:
    """The pairs a new run measures; a resume takes the run's own, so it is given none of them."""
    if request.resume is not None:
        given = [FLAGS[k] for k, v in request.overrides.items() if v]
        given += ["--profile"] * (request.profile is not None)
        given += [request.framework] * (request.framework != "all")
        given += [request.scenario] if request.scenario is not None else []
        if given:
            raise UsageError(
                f"--resume takes the run's own pairs and settings, not {' '.join(given)}",
                f"Run `kit bench all --resume {request.resume}`",
            )
        return []
    if request.framework == "all" and request.scenario is None:
        return all_pairs(cfg, request.profile)
    if request.scenario is None:
        raise UsageError(
            "missing SCENARIO",
            f"Usage: kit bench FRAMEWORK SCENARIO, or kit bench all; scenarios: {', '.join(SCENARIOS)}",
        )
    require_framework(request.framework)
    require_scenario(request.scenario)
    return [(request.framework, request.scenario)]
