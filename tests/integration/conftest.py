from __future__ import annotations

import shutil

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def require_binaries() -> None:
    missing = [b for b in ("terraform", "lxc", "lxd", "debootstrap", "ssh") if shutil.which(b) is None]
    if missing:
        pytest.fail(f"integration tests need {', '.join(missing)}: run `bash .ci/run` or `kit doctor`")
