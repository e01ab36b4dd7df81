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
