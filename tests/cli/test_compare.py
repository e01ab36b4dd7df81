"""`kit compare RUN_A RUN_B` through the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

#: The Error:/Hint: lines of a result (the `lines` fixture of conftest.py).
ErrorLines = Callable[[Result], list[str]]


@pytest.fixture
def runs(home: Path, data_dir: Path) -> Path:
    results = home / "results"
    shutil.copytree(data_dir / "runs" / "smoke", results / "a")
    shutil.copytree(data_dir / "runs" / "smoke", results / "b")
    shutil.copytree(data_dir / "raw_small", results / "golden")
    return results


def test_compare_a_run_with_its_copy(kit, runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = kit("compare", "a", "b")
    assert result.exit_code == 0, result.stderr
    assert "(B) against" in result.stdout and "p50_ms" in result.stdout
    doc = json.loads(kit("compare", "a", "b", "--json").stdout)
    # One repetition each: no interval, so no verdict of better or worse either.
    assert {r["verdict"] for r in doc["rows"]} == {"no interval"}
    assert doc["refused"] == [] and doc["only_in_a"] == doc["only_in_b"] == []


def test_compare_refuses_runs_whose_configuration_differs(kit, runs: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("compare", "a", "golden")
    assert result.exit_code == 1
    assert lines(result) == [
        "Error: runs 20261128-145612-09d9 and golden share no cell with the same configuration "
        "(mlserver/malware differs in bench.keepalive: true -> null; bench.timeout_s: 10.0 -> 2.0; "
        "bench.warmup_s: 2.0 -> 0.8 and 6 more)",
        "Hint: Compare runs made with the same framework settings, model, bench settings and server hosts",
    ]


def test_compare_with_an_unknown_run(kit, runs: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("compare", "a", "nope")
    assert result.exit_code == 2
    assert lines(result) == [f"Error: no run 'nope' under {runs}", "Hint: List runs with `ls results/`"]


def test_compare_needs_two_runs(kit, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    result = kit("compare", "a")
    assert result.exit_code == 2
    assert lines(result) == ["Error: Missing argument 'RUN_B'.", "Hint: run `kit compare --help` for usage"]
