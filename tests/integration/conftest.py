from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from kit import proc
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


@pytest.fixture(scope="session")
def small_disk() -> Callable[[Path, str], AbstractContextManager[Path]]:
    """A real small filesystem (tmpfs) mounted at a folder, to fill up: ENOSPC as the kernel says it."""
    if os.geteuid() != 0:
        pytest.fail("the full-disk tests mount a tmpfs and need root (CI runs as root)")
    return _small_disk


@contextmanager
def _small_disk(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    proc.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "kit-test-disk", str(where)], timeout=30
    )
    try:
        yield where
    finally:
        proc.run(["umount", "--lazy", str(where)], timeout=30, check=False)


@pytest.fixture(scope="session")
def fill() -> Callable[[Path], int]:
    return _fill


def _fill(disk: Path) -> int:
    """Write zeros into `disk` until the kernel says it is full; the bytes written."""
    written = 0
    with (disk / "filler").open("ab") as fh:
        try:
            while True:
                written += fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC, nothing else
    return written


KitWithFault = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]


@pytest.fixture(scope="session")
def kit_with_fault() -> KitWithFault:
    return _kit_with_fault


def _kit_with_fault(
    results: Path,
    args: Sequence[str],
    fault: Callable[[], None],
    env: dict[str, str] | None = None,
    after_s: float = 4,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`kit ARGS` (a bench) in a child process; `fault()` once its first cell has been measuring for
    `after_s` seconds (a cell's plan is written just before its engine starts). Returns the process
    and the run folder the bench made under `results`."""
    before = {p for p in results.iterdir() if p.is_dir()} if results.exists() else set()
    child = subprocess.Popen(
        [str(Path(sys.executable).with_name("kit")), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 240
        while not [p for p in results.glob("*/raw/**/*.plan.json") if p.parents[5] not in before]:
            assert child.poll() is None and time.monotonic() < deadline, child.communicate()
            time.sleep(0.5)
        time.sleep(after_s)
        fault()
        out, err = child.communicate(timeout=900)
    finally:
        if child.poll() is None:
            child.kill()
    (run,) = {p for p in results.iterdir() if p.is_dir()} - before
    return subprocess.CompletedProcess(child.args, child.returncode, out, err), run
