"""`kit bench`'s load options through the CLI: each mistake is one `Error:` and one `Hint:` line,
refused before any host is touched (no environment is up in these tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

#: The Error:/Hint: lines of a result (the `lines` fixture of conftest.py).
ErrorLines = Callable[[Result], list[str]]


@pytest.mark.parametrize(
    ("args", "code", "error", "hint"),
    [
        (
            ["--rate", "0"],
            2,
            "Error: Invalid value for '--rate': 0.0 is not in the range x>0.",
            "Hint: run `kit bench --help` for usage",
        ),
        (
            ["--rate", "100", "--rate", "-5"],
            2,
            "Error: Invalid value for '--rate': -5.0 is not in the range x>0.",
            "Hint: run `kit bench --help` for usage",
        ),
        (
            ["--duration", "0"],
            2,
            "Error: Invalid value for '--duration': 0.0 is not in the range x>0.",
            "Hint: run `kit bench --help` for usage",
        ),
        (
            ["--reps", "0"],
            2,
            "Error: Invalid value for '--reps': 0 is not in the range x>=1.",
            "Hint: run `kit bench --help` for usage",
        ),
        (
            ["--profile", "smoke", "--sweep"],
            2,
            "Error: a sweep needs an SLO",
            "Hint: Give --slo-p99-ms with --sweep, e.g. --slo-p99-ms 100",
        ),
        (
            ["--engine", "vegeta", "--arrival", "poisson"],
            2,
            "Error: vegeta paces at a constant rate only",
            "Hint: Use --arrival constant with --engine vegeta, or --engine kit for Poisson arrivals",
        ),
        (
            ["--engine", "wrk"],
            2,
            "Error: Invalid value for '--engine': 'wrk' is not one of 'kit', 'vegeta'.",
            "Hint: run `kit bench --help` for usage",
        ),
        (
            ["--profile", "smoke", "--engine", "vegeta", "--rate", "50", "--reps", "2", "--duration", "5"],
            1,
            "Error: no environment is up",
            "Hint: Run `kit up` first",
        ),
    ],
)
def test_bench_options(kit, args: list[str], code: int, error: str, hint: str, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("bench", "mlserver", "malware", *args)
    assert result.exit_code == code
    assert lines(result) == [error, hint]


def test_a_bad_rate_in_the_config_file_is_refused_too(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    cfg = home / "kit.toml"
    cfg.write_text("[bench]\nrates = [0]\n")
    result = kit("--config", str(cfg), "bench", "mlserver", "malware")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: {cfg}: rates: rates must be above 0 req/s, got [0.0]",
        "Hint: See README.md, section Configuration, for every key and its allowed values",
    ]


def test_the_study_is_summed_up_one_line_per_capacity_and_common_rate() -> None:
    from kit.cli.bench_command import study_lines

    study = {
        "pairs": {
            "torchserve/malware/small": {
                "slo_p99_ms": 100.0,
                "capacity": {
                    "rate": 180.0,
                    "low": 180.0,
                    "high": 200.0,
                    "confirmed": True,
                    "outcome": "found",
                },
            },
            "mlflow/malware/small": {
                "slo_p99_ms": 100.0,
                "capacity": {
                    "rate": None,
                    "outcome": "none",
                    "why": "no capacity at p99 <= 100 ms: lowest rate tried 5 req/s",
                },
            },
        },
        "common": {
            "malware/small": {
                "rate": 90.0,
                "fraction": 0.5,
                "of": "torchserve",
                "lowest_capacity": 180.0,
                "frameworks": ["torchserve"],
            }
        },
    }
    assert study_lines(study) == [
        "Capacity torchserve/malware/small at p99 <= 100 ms: 180 req/s, bracket [180, 200) (confirmed)",
        "Capacity mlflow/malware/small at p99 <= 100 ms: none (no capacity at p99 <= 100 ms: lowest rate "
        "tried 5 req/s)",
        "Common rate malware/small: 90 req/s (50 % of torchserve's 180 req/s) for torchserve",
    ]
