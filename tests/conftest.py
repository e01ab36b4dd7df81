from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def smoke_run(tmp_path: Path) -> Path:
    """A copy of a real smoke run (MLServer x malware, captured from `kit bench`), safe to modify."""
    dest = tmp_path / "results" / "smoke"
    shutil.copytree(DATA / "runs" / "smoke", dest)
    return dest
