from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from kit.provision import lxd


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def require_binaries() -> None:
    missing = [b for b in ("terraform", "lxc", "lxd", "debootstrap", "ssh") if shutil.which(b) is None]
    if missing:
        pytest.fail(f"integration tests need {', '.join(missing)}: run `bash .ci/run` or `kit doctor`")


@pytest.fixture(scope="session", autouse=True)
def no_stale_test_hosts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Delete hosts left by an earlier, interrupted test session before this one starts.

    Host names are fixed (kit-client, kit-srv-*), so a killed session's hosts would make every `kit up`
    here refuse them as another workspace's. Only hosts whose owning workspace lies in an earlier
    pytest base folder are removed: a user's own environment is never touched.
    """
    if shutil.which("lxc") is None or not lxd.daemon_running():
        return
    base = tmp_path_factory.getbasetemp().resolve()
    for inst in lxd.kit_instances(None):
        owner = Path(inst.get("config", {}).get("user.kit.workspace", "") or "/")
        if owner.is_relative_to(base.parent) and not owner.is_relative_to(base):
            lxd.delete_instance(inst["name"], log=None)


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace for the modules that bring hosts up: its wheelhouse and model builds are reused."""
    return tmp_path_factory.mktemp("kit-home")


@pytest.fixture(scope="session")
def environment() -> Callable[..., AbstractContextManager[None]]:
    return _environment


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration, then restore them exactly."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
