"""`kit bench all --resume RUN` through the CLI, on a copy of a real run: what it refuses (exit 2),
when it has nothing to do (exit 0, no host touched), and that a cut-off cell sends it to the hosts."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from kit import config

#: The Error:/Hint: lines of a result (the `lines` fixture of conftest.py).
ErrorLines = Callable[[Result], list[str]]

RUN = Path(__file__).parent.parent / "data" / "runs" / "smoke"


@pytest.fixture
def run(home: Path) -> Path:
    """The committed smoke run in this workspace, made under today's default configuration."""
    dest = home / "results" / "r1"
    shutil.copytree(RUN, dest)
    patch(dest, config_hash=config.load(None).digest())
    return dest


def patch(run: Path, **fields: object) -> None:
    man = json.loads((run / "manifest.json").read_text())
    man.update(fields)
    (run / "manifest.json").write_text(json.dumps(man))


@pytest.mark.parametrize(
    ("args", "given"),
    [
        (["all", "--rate", "5"], "--rate"),
        (["all", "--profile", "paper", "--reps", "2"], "--reps --profile"),
        (["mlserver", "malware"], "mlserver malware"),
    ],
)
def test_resume_takes_the_runs_own_settings(
    kit, run: Path, args: list[str], given: str, lines: ErrorLines
) -> None:  # type: ignore[no-untyped-def]
    result = kit("bench", *args, "--resume", "r1")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: --resume takes the run's own pairs and settings, not {given}",
        "Hint: Run `kit bench all --resume r1`",
    ]


def test_an_unknown_run_is_named(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("bench", "all", "--resume", "nosuch")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: no run 'nosuch' under {home / 'results'}",
        "Hint: List runs with `ls results/`",
    ]


def test_a_changed_configuration_is_refused(kit, run: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    patch(run, config_hash="0123456789abcdef")
    result = kit("bench", "all", "--resume", "r1")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: the configuration changed since r1 started (config hash {config.load(None).digest()}, "
        "the run's 0123456789abcdef)",
        "Hint: Resume with the configuration the run started with (its manifest.json holds it under "
        "`config`), or start a new run",
    ]


def test_a_finished_run_has_nothing_to_measure(kit, run: Path) -> None:  # type: ignore[no-untyped-def]
    before = (run / "manifest.json").read_text()
    result = kit("bench", "all", "--resume", "r1")
    assert result.exit_code == 0, result.stderr
    assert "Nothing left to measure in r1: every cell has an outcome." in result.stdout
    assert (run / "manifest.json").read_text() == before  # no part recorded, no host asked


def test_a_cut_off_cell_is_measured_again_on_the_hosts(kit, run: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    man = json.loads((run / "manifest.json").read_text())
    man["cells"][0]["status"] = "partial"
    patch(run, cells=man["cells"])
    result = kit("bench", "all", "--resume", "r1")
    assert result.exit_code == 1
    assert lines(result) == ["Error: no environment is up", "Hint: Run `kit up` first"]
    assert (run / "raw/mlserver/malware/small/50/rep0.parquet").exists()  # nothing moved before a host
