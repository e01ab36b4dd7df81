"""kit/bench/settings.py: what `kit bench` was asked, refused before any host is touched."""

from __future__ import annotations

from typing import Any

import pytest

from kit import config
from kit.bench import settings
from kit.errors import UsageError


def cfg(**raw: Any) -> config.Config:
    return config.from_dict(raw)


def test_the_kit_refuses_a_sweep_without_slo_and_vegeta_with_poisson() -> None:
    k = cfg()
    with pytest.raises(UsageError) as info:
        settings.resolve(k, "smoke", {"sweep": True})
    assert (info.value.what, info.value.hint) == (
        "a sweep needs an SLO",
        "Give --slo-p99-ms with --sweep, e.g. --slo-p99-ms 100",
    )
    with pytest.raises(UsageError) as info:
        settings.resolve(k, "smoke", {"engine": "vegeta", "arrival": "poisson"})
    assert info.value.what == "vegeta paces at a constant rate only"
    assert settings.resolve(k, "smoke", {"sweep": True, "slo_p99_ms": 50}).slo_p99_ms == 50


def test_bench_all_takes_the_profiles_scenarios_else_the_configs() -> None:
    k = cfg(frameworks=["mlserver", "mlflow"], scenarios=["crypto"])
    assert settings.all_pairs(k, "smoke") == [("mlserver", "crypto"), ("mlflow", "crypto")]
    paper = settings.all_pairs(k, "paper")
    assert len(paper) == 8 and ("mlflow", "sentiment") in paper


def test_one_pair_or_all_or_a_resume() -> None:
    k = cfg(frameworks=["mlserver"], scenarios=["crypto"])
    assert settings.pairs_for(k, settings.Request("torchserve", "image")) == [("torchserve", "image")]
    assert settings.pairs_for(k, settings.Request("all")) == [("mlserver", "crypto")]
    assert settings.pairs_for(k, settings.Request("all", resume="r1")) == []


def test_a_resume_refuses_what_the_run_already_fixed() -> None:
    asked = settings.Request("mlserver", "malware", "paper", {"rates": (5.0,), "arrival": None}, "r1")
    with pytest.raises(UsageError) as info:
        settings.pairs_for(cfg(), asked)
    assert (
        info.value.what
        == "--resume takes the run's own pairs and settings, not --rate --profile mlserver malware"
    )
    assert info.value.hint == "Run `kit bench all --resume r1`"


@pytest.mark.parametrize(
    ("bench", "what"),
    [
        (
            {"repetitions": 3, "confirm_reps": 8},
            "the study numbers a probe's repetitions and its confirmations below 10: 3 + 8 is too many",
        ),
        ({"common_reps": 11}, "the study numbers its common-rate repetitions 10-19: 11 is too many"),
        (
            {"sweep": False},
            "the study finds each pair's capacity with the SLO sweep: it cannot run with sweep = false",
        ),
    ],
)
def test_a_study_whose_repetitions_would_share_cells_is_refused(bench: dict[str, Any], what: str) -> None:
    with pytest.raises(UsageError) as refused:
        settings.resolve(config.from_dict({"bench": bench}), None)
    assert refused.value.what == what


def test_a_sweep_needs_an_slo_for_every_scenario_it_measures() -> None:
    k = cfg(profile="smoke", bench={"sweep": True, "slo_by_scenario": {"image": 500}})
    s = settings.resolve(k, None)
    settings.require_slos(s, [("mlflow", "image")])
    with pytest.raises(UsageError) as refused:
        settings.require_slos(s, [("mlflow", "image"), ("mlflow", "malware"), ("bentoml", "crypto")])
    assert (refused.value.what, refused.value.hint) == (
        "a sweep needs an SLO: none is set for crypto, malware",
        "Give --slo-p99-ms, or set [bench] slo_by_scenario in the config",
    )
