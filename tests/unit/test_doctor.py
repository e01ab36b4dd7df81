from pathlib import Path

import pytest

from kit import doctor
from kit.ssh import parse_facts


def test_python_version() -> None:
    assert doctor.check_python((3, 11)).ok
    bad = doctor.check_python((3, 9))
    assert not bad.ok and bad.fix.startswith("Install Python 3.11")


def test_terraform_version_json() -> None:
    assert doctor.parse_terraform_version('{"terraform_version": "1.11.4", "platform": "linux_amd64"}') == (
        1,
        11,
        4,
    )
    assert doctor.parse_terraform_version('{"terraform_version": "1.6.0-beta1"}') == (1, 6, 0)


def test_ip_forward(tmp_path: Path) -> None:
    f = tmp_path / "ip_forward"
    f.write_text("1\n")
    check = doctor.check_ip_forward(f)
    assert not check.ok and check.fix.startswith("sysctl -w net.ipv4.ip_forward=0")
    f.write_text("0\n")
    assert doctor.check_ip_forward(f).ok


def test_disk(tmp_path: Path) -> None:
    assert doctor.check_disk(tmp_path, min_gb=0).ok
    assert not doctor.check_disk(tmp_path, min_gb=10**9).ok


def test_host_facts_parsing() -> None:
    facts = parse_facts("cpu_model=AMD EPYC\ncores=1\nkernel=6.1.0\nnoise line\n")
    assert facts == {"cpu_model": "AMD EPYC", "cores": "1", "kernel": "6.1.0"}


def test_tool_installed_off_path_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian puts nft and debootstrap in /usr/sbin, which `su` without `-` leaves off PATH."""
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    (sbin / "debootstrap").write_text("#!/bin/sh\n")
    (sbin / "debootstrap").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    check = doctor._tool("debootstrap", "debootstrap", "apt-get install -y debootstrap", sbin=(sbin,))
    assert not check.ok
    assert check.detail == f"not on PATH (installed at {sbin / 'debootstrap'})"
    assert check.fix == f"Add {sbin} to PATH: export PATH=$PATH:{sbin} (or become root with `su -`, not `su`)"
    gone = doctor._tool("nftables", "nft", "apt-get install -y nftables", sbin=(sbin,))
    assert (gone.ok, gone.detail, gone.fix) == (False, "not found", "apt-get install -y nftables")
