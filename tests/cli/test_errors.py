"""Bad input through the CLI: exactly one `Error:` line, one `Hint:` line, and the exit code."""

from __future__ import annotations

import shutil
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
            ["bench", "foo", "malware"],
            2,
            "Error: unknown framework 'foo'",
            "Hint: Choose one of: tfserving, torchserve, mlserver, mlflow, bentoml",
        ),
        (
            ["bench", "mlserver", "fraud"],
            2,
            "Error: unknown scenario 'fraud'",
            "Hint: Choose one of: malware, crypto, image, sentiment",
        ),
        (
            ["deploy", "mlserver", "fraud"],
            2,
            "Error: unknown scenario 'fraud'",
            "Hint: Choose one of: malware, crypto, image, sentiment",
        ),
        (["deploy", "torchserve", "malware"], 1, "Error: no environment is up", "Hint: Run `kit up` first"),
        (
            ["bench", "mlserver"],
            2,
            "Error: missing SCENARIO",
            "Hint: Usage: kit bench FRAMEWORK SCENARIO, or kit bench all; scenarios: malware, crypto, image, sentiment",
        ),
        (["bench"], 2, "Error: Missing argument 'FRAMEWORK'.", "Hint: run `kit bench --help` for usage"),
        (
            ["bench", "mlserver", "malware", "--profile", "x"],
            2,
            "Error: Invalid value for '--profile': 'x' is not one of 'paper', 'smoke', 'study'.",
            "Hint: run `kit bench --help` for usage",
        ),
        (["frobnicate"], 2, "Error: No such command 'frobnicate'.", "Hint: run `kit --help` for usage"),
        (
            ["up", "--gpu"],
            2,
            "Error: --gpu needs --provider aws",
            "Hint: The local provider has no GPUs; drop --gpu",
        ),
        (["deploy", "mlserver", "malware"], 1, "Error: no environment is up", "Hint: Run `kit up` first"),
        (["bench", "mlserver", "malware"], 1, "Error: no environment is up", "Hint: Run `kit up` first"),
        (
            ["build", "fraud"],
            2,
            "Error: unknown scenario 'fraud'",
            "Hint: Choose one of: malware, crypto, image, sentiment",
        ),
    ],
)
def test_bad_input(kit, args: list[str], code: int, error: str, hint: str, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit(*args)
    assert result.exit_code == code
    assert lines(result) == [error, hint]


def test_report_without_runs(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("report")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: no runs under {home / 'results'}",
        "Hint: Run `kit bench FRAMEWORK SCENARIO` first",
    ]


def test_report_of_an_unknown_run(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("report", "nope")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: no run 'nope' under {home / 'results'}",
        "Hint: List runs with `ls results/`",
    ]


def test_malformed_config(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    bad = home / "kit.toml"
    bad.write_text("[bench]\nrates = [0]\n")
    result = kit("--config", str(bad), "bench", "mlserver", "malware")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: {bad}: rates: rates must be above 0 req/s, got [0.0]",
        "Hint: See README.md, section Configuration, for every key and its allowed values",
    ]


def test_status_with_nothing_up(kit) -> None:  # type: ignore[no-untyped-def]
    result = kit("status")
    assert result.exit_code == 0 and "No environment is up" in result.stdout
    assert kit("status", "--json").stdout.strip().startswith('{\n  "up": false')


def test_report_on_a_copied_run(kit, home: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(data_dir / "runs" / "smoke", home / "results" / "20261128-145612-09d9")
    result = kit("report", "--json")
    assert result.exit_code == 0
    assert '"run_id": "20261128-145612-09d9"' in result.stdout
    assert (home / "results" / "20261128-145612-09d9" / "report" / "report.md").exists()


def test_doctor_names_what_is_missing(
    kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lines: ErrorLines
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr("kit.doctor.SBIN_DIRS", ())  # nothing installed off PATH either (Debian's /usr/sbin)
    result = kit("doctor", "--json")
    assert result.exit_code == 1
    error, hint = lines(result)
    assert error.startswith(
        "Error: missing prerequisites: terraform, lxd, lxc, lxd daemon, nftables, debootstrap, ssh"
    )
    assert hint == "Hint: Run the fix shown for each, then `kit doctor`"
    assert '"fix": "apt-get install -y debootstrap"' in result.stdout
