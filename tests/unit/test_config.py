import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit import config
from kit.errors import UsageError


def test_defaults_are_the_study_profile() -> None:
    s = config.Config().bench_settings()
    assert (s.study, s.sweep, s.arrival, s.payloads, s.min_requests) == (
        True,
        True,
        "poisson",
        ("small",),
        300,
    )
    assert {sc: s.slo_for(sc) for sc in config.SCENARIOS} == config.STUDY_SLO_P99_MS
    assert s.model_copy(update={"slo_p99_ms": 50.0}).slo_for("image") == 50.0  # --slo-p99-ms sets every one


def test_the_smoke_profile_proves_the_path_in_seconds() -> None:
    s = config.Config(profile="smoke").bench_settings()
    assert (s.rates, s.duration_s, s.warmup_s, s.repetitions, s.payloads, s.study) == (
        (10.0,),
        5.0,
        2.0,
        1,
        ("small",),
        False,
    )


def test_an_slo_per_scenario_must_name_a_scenario_and_be_above_zero() -> None:
    with pytest.raises(UsageError, match="unknown scenario"):
        config.from_dict({"bench": {"slo_by_scenario": {"fraud": 10}}})
    with pytest.raises(UsageError, match="an SLO must be above 0 ms"):
        config.from_dict({"bench": {"slo_by_scenario": {"image": 0}}})


def test_paper_profile_matches_the_study() -> None:
    s = config.Config().bench_settings("paper")
    assert s.rates == (200.0,) and s.duration_s == 60 and s.payloads == ("small", "medium", "large")
    assert s.repetitions >= 3


def test_bench_table_overrides_only_what_it_sets() -> None:
    cfg = config.from_dict({"profile": "smoke", "bench": {"rates": [10, 20]}})
    s = cfg.bench_settings()
    assert s.rates == (10.0, 20.0) and s.duration_s == 5.0


#: A configuration whose tables and lists a set or a hash-ordered dict would reorder between processes.
DIGESTED = {
    "seed": 7,
    "frameworks": ["mlflow", "torchserve", "bentoml"],
    "scenarios": ["sentiment", "malware"],
    "bench": {"payloads": ["large", "small"], "rates": [20, 10]},
    "framework_settings": {"mlflow": {"workers": 2}, "bentoml": {"workers": 3}, "torchserve": {"workers": 0}},
}
DIGEST_CODE = f"from kit import config; print(config.from_dict({DIGESTED!r}).digest())"


def _digest_in_a_new_process(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", DIGEST_CODE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_digest_is_stable_across_processes_and_tracks_changes() -> None:
    # The digest names a configuration in manifests that `kit compare` and `--resume` read in other
    # processes: comparing it with itself in one process could not catch an order that depends on
    # the process (string hashing is salted per process unless PYTHONHASHSEED is set).
    here = config.from_dict(DIGESTED).digest()
    assert re.fullmatch(r"[0-9a-f]{16}", here)
    assert [_digest_in_a_new_process(seed) for seed in ("0", "1", "random")] == [here] * 3
    assert here != config.from_dict({**DIGESTED, "seed": 8}).digest()
    assert config.Config().digest() != config.from_dict({"seed": 7}).digest()


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        ({"bench": {"rates": [0]}}, "config: rates: rates must be above 0 req/s, got [0.0]"),
        ({"bench": {"duration_s": 0}}, "config: duration_s: Input should be greater than 0"),
        (
            {"frameworks": ["foo"]},
            "config: frameworks: unknown framework 'foo'; choose from tfserving, torchserve, mlserver, mlflow, bentoml",
        ),
        ({"profile": "fast"}, "config: profile: unknown profile 'fast'; choose from study, smoke, paper"),
        ({"nope": 1}, "config: nope: Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_usage_errors(raw: dict, what: str) -> None:
    with pytest.raises(UsageError) as info:
        config.from_dict(raw)
    assert info.value.what == what
    assert info.value.hint == "See README.md, section Configuration, for every key and its allowed values"


def test_malformed_toml(tmp_path: Path) -> None:
    bad = tmp_path / "kit.toml"
    bad.write_text("frameworks = [mlserver\n")
    with pytest.raises(UsageError) as info:
        config.load(bad)
    assert info.value.what.startswith(f"config file {bad} is not valid TOML:")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        config.load(tmp_path / "absent.toml")
    assert info.value.what == f"config file {tmp_path / 'absent.toml'} does not exist"


def test_toml_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "kit.toml"
    path.write_text(
        'seed = 9\nscenarios = ["malware"]\n[bench]\nrates = [25]\n[local]\nserver_memory_mb = 2048\n'
    )
    cfg = config.load(path)
    assert cfg.seed == 9 and cfg.bench_settings().rates == (25.0,) and cfg.local.server_memory_mb == 2048
