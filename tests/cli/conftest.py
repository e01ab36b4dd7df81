from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kit.cli import cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace: no environment, no runs."""
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    monkeypatch.delenv("KIT_RESULTS", raising=False)
    monkeypatch.delenv("KIT_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def kit(home: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="kit")

    return invoke


@pytest.fixture
def lines() -> Callable[[Result], list[str]]:
    """The Error: and Hint: lines a command printed, which these tests pin word for word."""

    def error_lines(result: Result) -> list[str]:
        return [ln for ln in result.stderr.splitlines() if ln.startswith(("Error:", "Hint:"))]

    return error_lines
