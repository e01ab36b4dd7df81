"""The bad-input matrix of issue 8 through the CLI: zero and negative numbers on the command line
and in the config, malformed TOML, unknown keys and ids, missing files. Exact `Error:`/`Hint:` lines;
exit 2 for usage, 1 for failures. Nothing here needs a host: every mistake is refused first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

#: The Error:/Hint: lines of a result (the `lines` fixture of conftest.py).
ErrorLines = Callable[[Result], list[str]]

BENCH = ["bench", "mlserver", "malware"]
USAGE = "Hint: run `kit bench --help` for usage"
CONFIG_HINT = "Hint: See README.md, section Configuration, for every key and its allowed values"


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("--rate", "0", "Error: Invalid value for '--rate': 0.0 is not in the range x>0."),
        ("--rate", "-5", "Error: Invalid value for '--rate': -5.0 is not in the range x>0."),
        ("--duration", "0", "Error: Invalid value for '--duration': 0.0 is not in the range x>0."),
        ("--duration", "-1", "Error: Invalid value for '--duration': -1.0 is not in the range x>0."),
        ("--reps", "0", "Error: Invalid value for '--reps': 0 is not in the range x>=1."),
        ("--slo-p99-ms", "-1", "Error: Invalid value for '--slo-p99-ms': -1.0 is not in the range x>0."),
        ("--rate", "fast", "Error: Invalid value for '--rate': 'fast' is not a valid float range."),
    ],
)
def test_numbers_on_the_command_line(kit, option: str, value: str, error: str, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit(*BENCH, option, value)
    assert (result.exit_code, lines(result)) == (2, [error, USAGE])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[bench]\nrates = [-40]\n", "rates: rates must be above 0 req/s, got [-40.0]"),
        ("[bench]\nduration_s = 0\n", "duration_s: Input should be greater than 0"),
        ("[bench]\nduration_s = -3\n", "duration_s: Input should be greater than 0"),
        ("[bench]\nrepetitions = 0\n", "repetitions: Input should be greater than or equal to 1"),
        ("[bench]\nwarmup_s = -1\n", "warmup_s: Input should be greater than or equal to 0"),
        (
            'frameworks = ["nope"]\n',
            "frameworks: unknown framework 'nope'; choose from tfserving, torchserve, "
            "mlserver, mlflow, bentoml",
        ),
        ("bogus_key = 1\n", "bogus_key: Extra inputs are not permitted"),
    ],
)
def test_values_in_the_config(kit, home: Path, text: str, error: str, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    config = home / "kit.toml"
    config.write_text(text)
    result = kit("--config", str(config), *BENCH)
    assert (result.exit_code, lines(result)) == (2, [f"Error: {config}: {error}", CONFIG_HINT])


def test_malformed_toml_names_the_line(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    config = home / "kit.toml"
    config.write_text('frameworks = ["mlserver"]\n[bench\nrates = [40]\n')
    result = kit("--config", str(config), "status")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: config file {config} is not valid TOML: Expected ']' at the end of a table declaration "
        "(at line 2, column 7)",
        "Hint: Fix the syntax at the line named above",
    ]


def test_a_missing_config_file(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("--config", str(home / "missing.toml"), "status")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: config file {home / 'missing.toml'} does not exist",
        "Hint: Pass an existing TOML file to --config",
    ]


def test_missing_runs_for_compare(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("compare", "a", "b")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: no run 'a' under {home / 'results'}",
        "Hint: List runs with `ls results/`",
    ]
