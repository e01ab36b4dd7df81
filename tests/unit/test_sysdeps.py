"""The system-package script (.ci/sysdeps) that `make demo`, `make test` and .ci/run share.

It runs for real here, on packages that change nothing: `coreutils` (essential, always installed) and
a name no archive has, so the missing-package paths are taken without installing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "sysdeps"
NO_SUCH = "kit-no-such-package"
OS_RELEASE = Path("/etc/os-release")


def on_debian() -> bool:
    ids = (
        [line for line in OS_RELEASE.read_text().splitlines() if line.startswith("ID=")]
        if OS_RELEASE.exists()
        else []
    )
    return ids == ["ID=debian"] and all(shutil.which(t) for t in ("apt-get", "dpkg-query"))


debian_only = pytest.mark.skipif(not on_debian(), reason="the install path runs on Debian only")


def sysdeps(
    *args: str, env: dict[str, str] | None = None, user: int | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", str(SCRIPT), *args]
    if user is not None and os.geteuid() == 0:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60
    )


@debian_only
def test_dry_run_names_the_missing_and_changes_nothing() -> None:
    res = sysdeps("--dry-run", NO_SUCH, "coreutils")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"sysdeps: missing: {NO_SUCH}",
        f"sysdeps: would run: apt-get update && apt-get install -y {NO_SUCH}",
    ]


@debian_only
def test_installed_packages_need_nothing() -> None:
    res = sysdeps("coreutils")
    assert (res.returncode, res.stdout, res.stderr) == (0, "sysdeps: installed: coreutils\n", "")


@debian_only
@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="needs setpriv to drop root"
)
def test_not_root_prints_the_one_command_and_stops() -> None:
    res = sysdeps(NO_SUCH, "coreutils", user=65534)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"sysdeps: missing system packages: {NO_SUCH}",
        f"sysdeps: as root, run: apt-get update && apt-get install -y {NO_SUCH}",
    ]


def test_another_distribution_is_left_to_kit_doctor(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')
    res = sysdeps(env={"KIT_OS_RELEASE": str(release)})
    assert res.returncode == 0 and res.stdout == ""
    assert res.stderr.splitlines() == [
        "sysdeps: not Debian (ID=ubuntu): install the equivalents of: "
        "lxd nftables debootstrap openssh-client curl python3-venv",
        "sysdeps: `kit doctor` checks each tool the kit needs and names what is missing",
    ]


def test_ci_and_makefile_share_the_one_list() -> None:
    """.ci/run and the Makefile call the script; neither keeps a package list of its own."""
    for path in (ROOT / ".ci" / "run", ROOT / "Makefile"):
        text = path.read_text()
        assert ".ci/sysdeps" in text and "apt-get install" not in text and "dpkg" not in text, path


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(("target", "next_step"), [("demo", "kit doctor"), ("test", "ruff check")])
def test_make_installs_packages_before_anything_else(target: str, next_step: str) -> None:
    """Before the venv (which needs python3-venv) and before `kit doctor` could stop the demo."""
    # Under `make test` the parent make's MAKEFLAGS/MAKELEVEL would add "make[1]: Entering directory".
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    res = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "bash .ci/sysdeps"
    assert any(next_step in line for line in lines[1:])
