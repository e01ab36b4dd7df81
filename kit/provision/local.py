"""The local provider: the topology of docs/design.md on one Linux machine, out of LXD system containers.

LXD plumbing (daemon, private bridge, base image) is prepared in Python because it is shared,
machine-level state; the hosts themselves are Terraform resources in terraform/local so that the
local and cloud providers end in the same `hosts` output and the same teardown story.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.config import Config, LocalProvider
from kit.errors import KitError, ProcessError, UsageError
from kit.ids import FRAMEWORKS, server_host
from kit.paths import TERRAFORM_DIR, Workspace, cache_dir
from kit.proc import last_line
from kit.provision import image, inventory, keys, lxd
from kit.provision.terraform import TerraformRoot

Progress = Callable[[str], None]
CLIENT_OCTET = 10
SERVER_OCTET_BASE = 21  # tfserving .21, torchserve .22, mlserver .23, mlflow .24, bentoml .25


@dataclass(frozen=True)
class UpResult:
    hosts: inventory.Hosts
    image_alias: str
    image_build_s: float | None


def cpu_count(cpu_set: str) -> int:
    """Cores in an LXD CPU range such as `1-3` or `0,2` (a bare number is a range of one)."""
    total = 0
    for part in cpu_set.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            total += int(hi or lo) - int(lo) + 1
        except ValueError:
            raise UsageError(f"bad CPU set '{cpu_set}'", "Use an LXD range such as 0-0, 1-3 or 0,2") from None
    return total


def address(prefix: str, framework: str | None) -> str:
    return (
        f"{prefix}.{CLIENT_OCTET if framework is None else SERVER_OCTET_BASE + FRAMEWORKS.index(framework)}"
    )


def host_variables(
    frameworks: tuple[str, ...],
    spec: LocalProvider,
    *,
    run_id: str,
    image_alias: str,
    net: lxd.Network,
    public_key: Path,
    wheelhouse: Path | None,
    workspace_root: Path,
) -> dict[str, object]:
    """The Terraform variables for one environment; pure, so the topology is testable offline."""
    cpus = {int(c) for part in (spec.client_cpu_set, spec.server_cpu_set) for c in _cores(part)}
    if set(_cores(spec.client_cpu_set)) & set(_cores(spec.server_cpu_set)):
        raise UsageError(
            f"client CPUs {spec.client_cpu_set} overlap server CPUs {spec.server_cpu_set}",
            "Give the client and the servers separate cores in [local] (client_cpu_set, server_cpu_set)",
        )
    del cpus
    server = {
        fw: {
            "ipv4_address": address(net.subnet_prefix, fw),
            "cpu_set": spec.server_cpu_set,
            "cpus": cpu_count(spec.server_cpu_set),
            "memory_mb": spec.server_memory_mb,
        }
        for fw in frameworks
    }
    return {
        "run_id": run_id,
        "workspace": str(workspace_root),
        "image": image_alias,
        "profile": net.profile,
        "ssh_public_key": str(public_key),
        "wheelhouse_dir": str(wheelhouse) if wheelhouse else "",
        "client": {
            "ipv4_address": address(net.subnet_prefix, None),
            "cpu_set": spec.client_cpu_set,
            "cpus": cpu_count(spec.client_cpu_set),
            "memory_mb": spec.client_memory_mb,
        },
        "servers": server,
    }


def _cores(cpu_set: str) -> list[int]:
    cores: list[int] = []
    for part in cpu_set.split(","):
        lo, _, hi = part.strip().partition("-")
        cores += list(range(int(lo), int(hi or lo) + 1))
    return cores


def instance_name(host_key: str) -> str:
    return f"kit-{host_key}"


class Local:
    name = "local"

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.net = lxd.Network()
        self.log = ws.log("provision")
        self.tf = TerraformRoot(TERRAFORM_DIR / "local", ws.terraform / "local", self.log)

    @property
    def vars_file(self) -> Path:
        return self.ws.terraform / "local" / "last-apply.tfvars.json"

    @property
    def known_hosts(self) -> Path:
        return self.ws.ssh / "known_hosts"

    def prepare(self, progress: Progress) -> tuple[str, float | None]:
        """Machine-level state the hosts need: the daemon, the private bridge, the base image."""
        progress("starting the LXD daemon (if needed)")
        lxd.ensure_daemon(self.ws.log("lxd"))
        progress("checking the private bridge")
        lxd.ensure_network(self.net, self.log)
        return image.ensure_image(
            image.ImageRecipe(), self.ws.build, cache_dir() / "debs", self.ws.log("image"), progress=progress
        )

    def up(self, cfg: Config, run_id: str, wheelhouse: Path | None, progress: Progress) -> UpResult:
        alias, build_s = self.prepare(progress)
        key = keys.ensure_keypair(self.ws.ssh, f"serving-kit-{run_id}", self.log)
        variables = host_variables(
            cfg.frameworks,
            cfg.local,
            run_id=run_id,
            image_alias=alias,
            net=self.net,
            public_key=keys.public_key(key),
            wheelhouse=wheelhouse,
            workspace_root=self.ws.root,
        )
        self.vars_file.parent.mkdir(parents=True, exist_ok=True)
        self.vars_file.write_text(json.dumps(variables, indent=2))
        progress("terraform init")
        self.tf.init()
        replace = self._heal(progress)
        progress(f"terraform apply: client + {len(cfg.frameworks)} server host(s)")
        self._apply(variables, replace, progress)
        hosts = inventory.parse(self.tf.output("hosts"))
        self._write_known_hosts(hosts)
        lxd.check_isolation(self.net, self.log)
        return UpResult(hosts, alias, build_s)

    def _apply(self, variables: dict[str, Any], replace: list[str], progress: Progress) -> None:
        """Apply, and once more if a host's creation failed.

        A fresh LXD daemon creating six containers at once has failed one of them (CI, once, on a
        fresh machine) where the same apply run again succeeded: Terraform taints the failed host and
        host.sh deletes its remains, so a second apply is clean. A second failure is reported as is.
        """

        def show(line: str) -> None:
            if line.strip():
                progress("terraform: " + line.strip())

        try:
            self.tf.apply(variables, replace=replace, on_line=show)
        except ProcessError as exc:
            if "local-exec provisioner error" not in exc.what:
                raise
            progress(f"retrying terraform apply once after: {exc.what}")
            with self.log.open("a") as fh:
                fh.write(f"\n=== retrying terraform apply once after: {exc.what}\n")
            self.tf.apply(variables, replace=self._heal(progress), on_line=show)

    def _heal(self, progress: Progress) -> list[str]:
        """Make a rerun of `kit up` resume: start stopped hosts, have Terraform recreate vanished ones."""
        instances = {
            str(i["name"]): str(i.get("status", "")) for i in lxd.kit_instances(self.log, self.ws.root)
        }
        replace = []
        for address in self.tf.resources():
            name = instance_for_address(address)
            if name is None:
                continue
            if name not in instances:
                progress(f"{name} is gone: Terraform will recreate it")
                replace.append(address)
            elif instances[name].lower() != "running":
                progress(f"starting {name} (it was {instances[name].lower()})")
                lxd.lxc("start", name, log=self.log, what=f"starting {name}")
        return replace

    def _write_known_hosts(self, hosts: inventory.Hosts) -> None:
        """Trust each host's key as read through LXD, not as offered over the network."""
        lines = [f"{host.private_ip} {self._host_key(instance_name(host.name))}" for host in hosts.all()]
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def _host_key(self, inst: str, wait_s: float = 60.0) -> str:
        """`type key` of the instance's ed25519 host key, read through LXD's file API.

        Read by `lxc file pull`, not `lxc exec cat`: on CI an exec into a host started a moment
        earlier (a stopped host being healed) exited 0 with no output. On a first boot the key does
        not exist until ssh-keygen's unit has run, hence the wait.
        """
        path = "/etc/ssh/ssh_host_ed25519_key.pub"
        deadline = time.monotonic() + wait_s
        while True:
            res = lxd.lxc("file", "pull", f"{inst}{path}", "-", log=self.log, check=False, timeout=30)
            fields = res.stdout.split()
            if res.returncode == 0 and len(fields) >= 2 and fields[0].startswith("ssh-"):
                return f"{fields[0]} {fields[1]}"
            if time.monotonic() >= deadline:
                said = last_line(res.stderr) or f"{len(res.stdout)} bytes: {res.stdout[:80]!r}"
                raise KitError(
                    f"could not read the SSH host key of {inst} ({path}) within {wait_s:.0f} s: {said}",
                    f"check the host with `lxc exec {inst} -- systemctl status ssh`; `kit down` then "
                    "`kit up` rebuilds it",
                )
            time.sleep(1)

    @contextlib.contextmanager
    def install_cores(
        self, hosts: inventory.Hosts, spec: LocalProvider, progress: Progress
    ) -> Iterator[None]:
        """While the roles install, every host may run on the client's and the servers' cores together.

        Unpacking a framework's wheels is CPU-bound and measured by nothing, and the servers share
        one core by default: four installs queued on it for three minutes while the client's core
        idled. Each host gets its own CPU set back afterwards, read back and checked, before anything
        is measured (and the bench checks every host's core count again before its first cell)."""
        own = {hosts.client.name: spec.client_cpu_set}
        own |= {srv.name: spec.server_cpu_set for srv in hosts.servers.values()}
        shared = ",".join(map(str, sorted({c for cpu_set in own.values() for c in _cores(cpu_set)})))
        progress(f"installing on cores {shared}; each host gets its own CPU set back after")
        try:
            for name in own:
                lxd.lxc("config", "set", instance_name(name), "limits.cpu", shared, log=self.log)
            yield
        finally:
            for name, cpu_set in own.items():
                self._pin(instance_name(name), cpu_set)

    def _pin(self, inst: str, cpu_set: str) -> None:
        hint = f"Run `kit up` again; it pins every host to its CPU set (see {self.log})"
        lxd.lxc(
            "config",
            "set",
            inst,
            "limits.cpu",
            cpu_set,
            log=self.log,
            what=f"pinning {inst} back to CPUs {cpu_set}",
            hint=hint,
        )
        got = lxd.lxc("config", "get", inst, "limits.cpu", log=self.log).stdout.strip()
        if got != cpu_set:
            raise KitError(f"{inst} runs on CPUs {got!r}, not its own {cpu_set}", hint)

    def down(self, progress: Progress) -> list[str]:
        """Destroy every host: through Terraform when its state is there, then by tag regardless."""
        removed: list[str] = []
        if lxd.daemon_running(self.log):
            if self.tf.resources() and self.vars_file.exists():
                progress("terraform destroy")
                self.tf.init()
                self.tf.destroy(
                    json.loads(self.vars_file.read_text()),
                    on_line=lambda ln: progress("terraform: " + ln.strip()) if ln.strip() else None,
                )
                removed.append("terraform resources")
            for inst in lxd.kit_instances(self.log, self.ws.root):
                name = str(inst["name"])
                progress(f"deleting {name} (found by its serving-kit tag)")
                lxd.delete_instance(name, self.log)
                removed.append(name)
            if not lxd.kit_instances(self.log):
                # The bridge is shared by every workspace's hosts: it goes with the last of them.
                removed += lxd.remove_network(self.net, self.log)
        self.vars_file.unlink(missing_ok=True)
        self.tf.state_file.unlink(missing_ok=True)
        keys.remove_keypair(self.ws.ssh)
        return removed


def instance_for_address(address: str) -> str | None:
    """The LXD instance a Terraform address of terraform/local stands for."""
    if address == "module.client.terraform_data.host":
        return instance_name("client")
    match = re.fullmatch(r'module\.server\["([a-z]+)"\]\.terraform_data\.host', address)
    return instance_name(server_host(match.group(1))) if match else None
