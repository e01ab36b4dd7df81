"""The LXD daemon, bridge, storage pool and profile that the local provider's hosts live on.

Everything here is idempotent: each `ensure_*` checks first and changes only what is missing, so
`kit up` can be rerun after any failure. The bridge is private on purpose: no NAT, no routing and
no default route handed out by DHCP, so a host can reach its peers and the controller but nothing
else, and `net.ipv4.ip_forward` stays 0 on the controller (checked, not assumed).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import proc
from kit.errors import KitError, PrerequisiteError

PROJECT_TAG = "serving-kit"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


@dataclass(frozen=True)
class Network:
    bridge: str = "kitbr0"
    subnet_prefix: str = "10.78.0"
    pool: str = "kit"
    profile: str = "serving-kit"

    @property
    def gateway(self) -> str:
        return f"{self.subnet_prefix}.1"


def lxc(
    *args: str,
    log: Path | None,
    timeout: float = 120,
    check: bool = True,
    what: str | None = None,
    hint: str | None = None,
    input: str | None = None,
) -> proc.Result:
    return proc.run(
        ["lxc", *args],
        timeout=timeout,
        log=log,
        check=check,
        what=what or f"lxc {args[0]}",
        hint=hint,
        input=input,
    )


def daemon_running(log: Path | None = None) -> bool:
    if shutil.which("lxc") is None:
        return False
    return lxc("query", "/1.0", log=log, timeout=15, check=False).returncode == 0


def ensure_daemon(log: Path) -> int | None:
    """Start LXD under the kit's reaping supervisor when installed but not running.

    Returns the PID of the supervisor the kit started, or None when LXD was already up (a daemon
    someone else started is never touched).
    """
    if shutil.which("lxd") is None or shutil.which("lxc") is None:
        raise PrerequisiteError(
            "LXD is not installed on this machine",
            "Install it: apt-get install -y lxd nftables debootstrap (then rerun; `kit doctor` checks all)",
        )
    if daemon_running(log):
        return None
    if shutil.which("nft") is None:
        raise PrerequisiteError(
            "nftables is not installed: LXD cannot create its bridge without it",
            "Install it: apt-get install -y nftables",
        )
    pid = proc.spawn_daemon(
        [
            sys.executable,
            "-m",
            "kit.provision.lxd_supervisor",
            "lxd",
            "--group",
            "root",
            "--logfile",
            str(log.with_name("lxd-daemon.log")),
        ],
        log=log.with_name("lxd-supervisor.log"),
    )
    proc.run(
        ["lxd", "waitready", "--timeout=60"],
        timeout=90,
        log=log,
        what="waiting for the LXD daemon",
        hint=f"LXD did not come up; read {log.with_name('lxd-daemon.log')}",
    )
    return pid


def _exists(kind: str, name: str, log: Path) -> bool:
    return lxc(kind, "show", name, log=log, check=False, timeout=30).returncode == 0


def ensure_network(net: Network, log: Path) -> None:
    """Create the private bridge, the storage pool and the kit's profile once."""
    if not _exists("network", net.bridge, log):
        lxc(
            "network",
            "create",
            net.bridge,
            f"ipv4.address={net.gateway}/24",
            "ipv4.nat=false",
            "ipv4.firewall=false",
            "ipv4.routing=false",
            "ipv4.dhcp=true",
            f"ipv4.dhcp.ranges={net.subnet_prefix}.100-{net.subnet_prefix}.200",
            "ipv6.address=none",
            "raw.dnsmasq=dhcp-option=3\nno-resolv",
            log=log,
            what=f"creating the private bridge {net.bridge}",
            hint="Is another network using the subnet? See `lxc network list`; the log has the details.",
        )
    if not _exists("storage", net.pool, log):
        lxc("storage", "create", net.pool, "dir", log=log, what=f"creating the LXD storage pool {net.pool}")
    if not _exists("profile", net.profile, log):
        lxc("profile", "create", net.profile, log=log)
        lxc("profile", "device", "add", net.profile, "root", "disk", "path=/", f"pool={net.pool}", log=log)
        lxc(
            "profile",
            "device",
            "add",
            net.profile,
            "eth0",
            "nic",
            "name=eth0",
            f"network={net.bridge}",
            log=log,
        )
    check_isolation(net, log)


def check_isolation(net: Network, log: Path) -> None:
    """Refuse to go on if the bridge could route host traffic anywhere."""
    forward = IP_FORWARD.read_text().strip() if IP_FORWARD.exists() else "0"
    if forward != "0":
        raise KitError(
            "net.ipv4.ip_forward is 1 on this machine: local hosts could route beyond their private bridge",
            "Set it back with `sysctl -w net.ipv4.ip_forward=0` and check that no LXD network has "
            "ipv4.routing=true (`lxc network show <name>`)",
        )
    config = json.loads(lxc("query", f"/1.0/networks/{net.bridge}", log=log).stdout).get("config", {})
    wrong = {k: config.get(k) for k in ("ipv4.nat", "ipv4.routing") if config.get(k) != "false"}
    if wrong:
        raise KitError(
            f"the bridge {net.bridge} is not private: {wrong}",
            f"Run `lxc network set {net.bridge} ipv4.nat=false ipv4.routing=false`, or `kit down` and "
            f"`lxc network delete {net.bridge}` so that the kit recreates it",
        )


def image_exists(alias: str, log: Path) -> bool:
    return lxc("image", "show", alias, log=log, check=False, timeout=30).returncode == 0


def kit_instances(log: Path | None, workspace: Path | None = None) -> list[dict[str, Any]]:
    """Instances the kit tagged, whatever any state file says (for `kit down` after a loss).

    With `workspace`, only those that workspace owns, plus orphans: hosts whose owning workspace no
    longer records an environment (deleted folder, lost state). A live environment of another
    workspace is never included.
    """
    listing = json.loads(lxc("list", "--format=json", log=log, timeout=60).stdout or "[]")
    tagged = [i for i in listing if i.get("config", {}).get("user.kit.project") == PROJECT_TAG]
    if workspace is None:
        return tagged
    return [
        i for i in tagged if owned_or_orphaned(i.get("config", {}).get("user.kit.workspace", ""), workspace)
    ]


def owned_or_orphaned(owner: str, workspace: Path) -> bool:
    if not owner or Path(owner) == workspace:
        return True
    return not (Path(owner) / ".kit" / "env.json").exists()


def delete_instance(name: str, log: Path | None) -> None:
    lxc("delete", "--force", name, log=log, timeout=120, what=f"deleting host {name}")


def wait_for(predicate: object, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval)
    return False


def remove_network(net: Network, log: Path) -> list[str]:
    """Delete the kit's profile and bridge (the pool and the cached image stay: they are a cache)."""
    removed = []
    if _exists("profile", net.profile, log):
        lxc("profile", "delete", net.profile, log=log, what=f"deleting the LXD profile {net.profile}")
        removed.append(f"profile {net.profile}")
    if _exists("network", net.bridge, log):
        lxc("network", "delete", net.bridge, log=log, what=f"deleting the bridge {net.bridge}")
        removed.append(f"bridge {net.bridge}")
    return removed
