"""The local provider's base image: Debian 12 built with debootstrap, imported into LXD, cached.

No image server is reachable from the machines the kit targets, so the image is built from Debian
packages. Its alias carries a hash of the recipe: changing the package list builds a new image and
an unchanged recipe is never rebuilt.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kit import proc
from kit.errors import KitError, PrerequisiteError
from kit.provision import lxd

RELEASE = "bookworm"
PACKAGES = (
    "openssh-server",
    "iproute2",
    "python3",
    "python3-venv",
    "python3-packaging",
    "iputils-ping",
    "ifupdown",
    "isc-dhcp-client",
    "systemd-sysv",
    "dbus",
    "udev",
    "kmod",
    "procps",
    "curl",
    "ca-certificates",
    # Ansible's pip module imports packaging; TorchServe's frontend is Java (11 or newer).
    "openjdk-17-jre-headless",
)

HOSTKEY_UNIT = """[Unit]
Description=Generate SSH host keys on first boot (each host gets its own)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

INTERFACES = """auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
"""

METADATA = """architecture: x86_64
creation_date: {created}
properties:
  description: serving-kit Debian 12 host ({alias})
  os: debian
  release: {release}
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
"""

HOSTS_TPL = """127.0.0.1 localhost
127.0.1.1 {{ container.name }}
"""


@dataclass(frozen=True)
class ImageRecipe:
    release: str = RELEASE
    packages: tuple[str, ...] = PACKAGES
    mirror: str = field(default_factory=lambda: debian_mirror())

    @property
    def alias(self) -> str:
        recipe = "\n".join([self.release, *sorted(self.packages), HOSTKEY_UNIT, INTERFACES, METADATA])
        return f"kit-debian12-{hashlib.sha256(recipe.encode()).hexdigest()[:10]}"


def debian_mirror(
    sources: tuple[Path, ...] = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")),
) -> str:
    """The Debian mirror this machine's apt already uses (the one that is reachable from here)."""
    texts: list[str] = []
    for src in sources:
        if src.is_dir():
            texts += [p.read_text(errors="replace") for p in sorted(src.glob("*")) if p.is_file()]
        elif src.is_file():
            texts.append(src.read_text(errors="replace"))
    return mirror_from_sources("\n".join(texts)) or "http://deb.debian.org/debian"


def mirror_from_sources(text: str) -> str | None:
    """Find the main Debian archive in one-line (`deb URL bookworm main`) or deb822 sources."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb" and parts[2] == RELEASE and not parts[1].startswith("["):
            return parts[1].rstrip("/")
    for stanza in text.split("\n\n"):
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
            if not k.startswith("#") and v
        )
        uris, suites = fields.get("URIs", ""), fields.get("Suites", "").split()
        if uris and RELEASE in suites and "security" not in uris:
            return uris.split()[0].rstrip("/")
    return None


def ensure_image(
    recipe: ImageRecipe, work: Path, debs: Path, log: Path, progress: Callable[[str], None] = lambda _: None
) -> tuple[str, float | None]:
    """Return the image alias, building it first when LXD lacks it; also the build seconds (or None)."""
    if lxd.image_exists(recipe.alias, log):
        return recipe.alias, None
    if shutil.which("debootstrap") is None:
        raise PrerequisiteError(
            "debootstrap is not installed: the local base image cannot be built",
            "Install it: apt-get install -y debootstrap",
        )
    start = time.monotonic()
    build = work / recipe.alias
    if build.exists():
        shutil.rmtree(build)
    rootfs = build / "rootfs"
    rootfs.mkdir(parents=True)
    debs.mkdir(parents=True, exist_ok=True)
    progress("debootstrap: starting")
    proc.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(recipe.packages)}",
            f"--cache-dir={debs.resolve()}",
            recipe.release,
            str(rootfs),
            recipe.mirror,
        ],
        timeout=1800,
        log=log,
        what="debootstrap of the Debian 12 base image",
        hint=f"Is {recipe.mirror} reachable (the mirror from /etc/apt/sources.list)? See the log {log}",
        on_line=lambda line: progress("debootstrap: " + line[2:] if line.startswith("I: ") else ""),
    )
    progress("customizing the root filesystem")
    customize(rootfs)
    write_metadata(build, recipe)
    progress("packing and importing into LXD")
    proc.run(
        ["tar", "-C", str(build / "meta"), "-cf", str(build / "meta.tar"), "metadata.yaml", "templates"],
        timeout=120,
        log=log,
    )
    proc.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(build / "rootfs.tar"), "."],
        timeout=900,
        log=log,
        what="packing the base image",
    )
    lxd.lxc(
        "image",
        "import",
        str(build / "meta.tar"),
        str(build / "rootfs.tar"),
        "--alias",
        recipe.alias,
        log=log,
        timeout=900,
        what="importing the base image into LXD",
    )
    shutil.rmtree(build)
    return recipe.alias, time.monotonic() - start


def customize(rootfs: Path) -> None:
    """Make the rootfs a host: DHCP on eth0, unique machine-id and SSH host keys per container."""
    (rootfs / "etc/network/interfaces").write_text(INTERFACES)
    (rootfs / "etc/machine-id").write_text("")
    dbus_id = rootfs / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    unit = rootfs / "etc/systemd/system/kit-ssh-hostkeys.service"
    unit.write_text(HOSTKEY_UNIT)
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit.name
    if not link.is_symlink():
        link.symlink_to(f"/etc/systemd/system/{unit.name}")
    ssh_dir = rootfs / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    # The package caches are of no use offline and only make every container's copy bigger.
    for cache in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        cache.unlink()


def write_metadata(build: Path, recipe: ImageRecipe) -> None:
    meta = build / "meta"
    (meta / "templates").mkdir(parents=True)
    (meta / "metadata.yaml").write_text(
        METADATA.format(created=int(time.time()), alias=recipe.alias, release=recipe.release)
    )
    (meta / "templates/hostname.tpl").write_text("{{ container.name }}\n")
    (meta / "templates/hosts.tpl").write_text(HOSTS_TPL)


def require_image(alias: str, log: Path) -> None:
    if not lxd.image_exists(alias, log):
        raise KitError(f"the base image {alias} is missing from LXD", "Run `kit up` to build it.")
