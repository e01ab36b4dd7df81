from pathlib import Path

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
