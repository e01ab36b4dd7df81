"""Prerequisites of the controller, each with the command that fixes it when missing."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.exceptions

from kit import proc
from kit.errors import KitError, ProcessError
from kit.provision import tfcli
from kit.provision.aws_api import CREDENTIALS_HINT

MIN_FREE_GB = 10
MIN_TERRAFORM = (1, 5)
APT = "apt-get install -y"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


#: Where Debian installs nft and debootstrap: on root's login PATH, but not on the PATH that `su`
#: without `-` keeps, so an installed tool looks missing and its apt fix would change nothing.
SBIN_DIRS = (Path("/usr/sbin"), Path("/sbin"))


def _tool(name: str, binary: str, fix: str, sbin: tuple[Path, ...] | None = None) -> Check:
    path = shutil.which(binary)
    if path is not None:
        return Check(name, True, path)
    for folder in SBIN_DIRS if sbin is None else sbin:
        if Path(binary).name == binary and shutil.which(binary, path=str(folder)):
            return Check(
                name,
                False,
                f"not on PATH (installed at {folder / binary})",
                f"Add {folder} to PATH: export PATH=$PATH:{folder} (or become root with `su -`, not `su`)",
            )
    return Check(name, False, "not found", fix)


def check_python(version: tuple[int, int] = sys.version_info[:2]) -> Check:
    ok = version >= (3, 11)
    return Check(
        "python",
        ok,
        f"{version[0]}.{version[1]}",
        "" if ok else "Install Python 3.11 and recreate the venv: make setup",
    )


def parse_terraform_version(text: str) -> tuple[int, ...]:
    raw = json.loads(text).get("terraform_version", "0.0.0")
    return tuple(int(p) for p in raw.split("-")[0].split(".")[:3])


def check_terraform() -> Check:
    fix = "Install Terraform >= 1.5 (one binary on PATH): https://developer.hashicorp.com/terraform/install"
    if shutil.which("terraform") is None:
        return Check("terraform", False, "not found", fix)
    try:
        res = proc.run(["terraform", "version", "-json"], timeout=30, env={"TF_CLI_CONFIG_FILE": "/dev/null"})
        version = parse_terraform_version(res.stdout)
    except (ProcessError, ValueError) as exc:
        return Check("terraform", False, f"unusable: {exc}", fix)
    ok = version[:2] >= MIN_TERRAFORM
    return Check("terraform", ok, ".".join(map(str, version)), "" if ok else fix)


def check_lxd_daemon() -> Check:
    if shutil.which("lxc") is None:
        return Check("lxd daemon", False, "lxc not found", f"{APT} lxd nftables")
    res = proc.run(["lxc", "query", "/1.0"], timeout=15, check=False)
    if res.returncode == 0:
        return Check("lxd daemon", True, "running")
    # Not an error: `kit up` starts the daemon when it is installed.
    return Check("lxd daemon", True, "installed, not running (kit up starts it)")


def check_disk(path: Path, min_gb: int = MIN_FREE_GB) -> Check:
    free = shutil.disk_usage(path).free / 2**30
    ok = free >= min_gb
    return Check(
        "free disk",
        ok,
        f"{free:.0f} GiB free at {path}",
        "" if ok else f"Free at least {min_gb} GiB (the base image and hosts take about 2 GiB each)",
    )


def check_ip_forward(path: Path = Path("/proc/sys/net/ipv4/ip_forward")) -> Check:
    value = path.read_text().strip() if path.exists() else "0"
    ok = value == "0"
    return Check(
        "ip_forward",
        ok,
        f"net.ipv4.ip_forward={value}",
        "" if ok else "sysctl -w net.ipv4.ip_forward=0 (local hosts must not route anywhere)",
    )


def run_checks(workspace: Path) -> list[Check]:
    checks: list[Callable[[], Check]] = [
        check_python,
        check_terraform,
        lambda: _tool("lxd", "lxd", f"{APT} lxd nftables"),
        lambda: _tool("lxc", "lxc", f"{APT} lxd"),
        check_lxd_daemon,
        lambda: _tool("nftables", "nft", f"{APT} nftables (LXD needs it to create its bridge)"),
        lambda: _tool("debootstrap", "debootstrap", f"{APT} debootstrap"),
        lambda: _tool("ssh", "ssh", f"{APT} openssh-client"),
        lambda: _tool("ssh-keygen", "ssh-keygen", f"{APT} openssh-client"),
        lambda: _tool(
            "ansible-playbook",
            str(Path(sys.executable).parent / "ansible-playbook"),
            "make setup (installs ansible-core into the kit's venv)",
        ),
        lambda: check_disk(workspace if workspace.exists() else Path.cwd()),
        check_ip_forward,
    ]
    return [check() for check in checks]


#: Checks only the local provider needs; `kit doctor --provider aws` leaves them out.
LOCAL_ONLY = frozenset({"lxd", "lxc", "lxd daemon", "nftables", "debootstrap", "ip_forward"})


def check_aws_provider_source(mirror: str) -> Check:
    try:
        source = tfcli.find_source(mirror)
    except KitError as exc:
        return Check("terraform aws provider", False, exc.what, exc.hint)
    detail = f"hashicorp/aws {tfcli.AWS_PROVIDER_VERSION} from {source.describe()}"
    if source.mirror is None:
        detail += " (needs registry.terraform.io at `kit up`)"
    return Check("terraform aws provider", True, detail)


def check_aws_credentials(region: str) -> Check:
    """Offline: are credentials configured at all (their validity is the preflight's job)."""
    try:
        creds = boto3.Session(region_name=region).get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        return Check("aws credentials", False, f"unusable: {exc}", CREDENTIALS_HINT)
    if creds is None:
        return Check("aws credentials", False, "none found", CREDENTIALS_HINT)
    return Check("aws credentials", True, f"from {creds.method}")


def check_aws_region(region: str) -> Check:
    known = boto3.Session().get_available_regions("ec2")
    ok = region in known
    return Check("aws region", ok, region, "" if ok else f"Set [aws] region to one of: {', '.join(known)}")


def run_aws_checks(workspace: Path, region: str, mirror: str) -> list[Check]:
    """`kit doctor --provider aws`: the controller's tools plus what the aws provider needs."""
    common = [c for c in run_checks(workspace) if c.name not in LOCAL_ONLY]
    aws = [check_aws_provider_source(mirror), check_aws_credentials(region), check_aws_region(region)]
    return [*common, *aws]
