"""Commands and file copies on the hosts over SSH, with the environment's key and known hosts.

Everything goes through kit/proc.py; errors name the host so that the user knows where to look.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import proc
from kit.errors import HostError, ProcessError, write_error
from kit.provision.inventory import Host

#: How long `systemctl kill` may take: it only signals, it waits for nothing.
KILL_S = 30.0


@dataclass(frozen=True)
class Ssh:
    private_key: Path
    known_hosts: Path
    log: Path

    def options(self, host: Host) -> list[str]:
        return [
            "-i",
            str(self.private_key),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=6",
            "-o",
            "LogLevel=ERROR",
            "-o",
            f"Port={host.ssh_port}",
        ]

    def target(self, host: Host) -> str:
        return f"{host.ssh_user}@{host.public_ip}"

    def run(
        self,
        host: Host,
        command: str,
        *,
        timeout: float,
        what: str,
        check: bool = True,
        input: str | None = None,
    ) -> proc.Result:
        try:
            return proc.run(
                ["ssh", *self.options(host), self.target(host), command],
                timeout=timeout,
                log=self.log,
                what=f"{what} on {host.name}",
                check=check,
                input=input,
                hint=f"Check the host with `kit status`; full log: {self.log}",
            )
        except ProcessError as exc:
            if exc.returncode == 255:
                raise HostError(
                    f"host {host.name} ({host.public_ip}) did not answer over SSH",
                    "Check it with `kit status`; `kit down` then `kit up` recreates it",
                    host=host.name,
                ) from exc
            raise

    def put(self, host: Host, local: Path, remote: str, *, timeout: float = 120) -> None:
        proc.run(
            ["scp", "-q", *self._scp_options(host), str(local), f"{self.target(host)}:{remote}"],
            timeout=timeout,
            log=self.log,
            what=f"copying {local.name} to {host.name}",
            hint=f"Check the host with `kit status`; full log: {self.log}",
        )

    def get(self, host: Host, remote: str, local: Path, *, timeout: float = 300) -> None:
        """Copy a file from the host; it gets its name only once whole, so a copy cut short (a full
        disk, a lost host) never passes for the host's file."""
        kept = f"the file is still on {host.name} at {remote}"
        tmp = local.with_name(f".{local.name}.{os.getpid()}.partial")
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
            proc.run(
                ["scp", "-q", *self._scp_options(host), f"{self.target(host)}:{remote}", str(tmp)],
                timeout=timeout,
                log=self.log,
                what=f"fetching {remote} from {host.name}",
                hint=f"Check the host with `kit status`; full log: {self.log}",
            )
            os.replace(tmp, local)
        except OSError as exc:
            raise write_error(local, exc.errno, exc.strerror or str(exc), kept) from exc
        except ProcessError as exc:
            for code in (errno.ENOSPC, errno.EDQUOT):
                text = os.strerror(code)
                if text in exc.stderr_tail:
                    raise write_error(local, code, text, kept) from exc
            raise
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _scp_options(self, host: Host) -> list[str]:
        return self.options(host)


FACTS_SCRIPT = (
    "echo cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); "
    "echo cores=$(nproc); echo kernel=$(uname -r); "
    "echo memory_limit_bytes=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo unknown); "
    "echo os=$(. /etc/os-release && echo $PRETTY_NAME); echo python=$(python3 -V | cut -d' ' -f2); "
    # The queueing discipline on the host's network interface: a link shaped with tc (tbf, htb) is
    # part of what was measured, and the report says so.
    "dev=$(ip -o -4 addr show scope global 2>/dev/null | awk '{print $2; exit}'); "
    "echo link=$dev $(tc qdisc show dev $dev root 2>/dev/null | head -1)"
)


def parse_facts(text: str) -> dict[str, str]:
    facts: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key.strip()] = value.strip()
    return facts


def host_facts(ssh: Ssh, host: Host) -> dict[str, str]:
    """CPU model, cores the host sees, kernel, memory limit, OS: what the manifest records."""
    return parse_facts(ssh.run(host, FACTS_SCRIPT, timeout=60, what="reading host facts").stdout)


def as_root(host: Host, command: str) -> str:
    """The command as root: itself for root, through passwordless sudo (as Ansible's become) else."""
    return command if host.ssh_user == "root" else f"sudo -n sh -c {q(command)}"


def restart_service(ssh: Ssh, host: Host, unit: str, *, timeout: float) -> list[dict[str, Any]]:
    """`systemctl restart UNIT`; when it does not finish within `timeout` (a server buried in an
    overload's backlog can outlast its unit's stop timeout and the SSH round trip on a saturated
    core) or fails, the unit's processes are killed (SIGKILL) and the unit started. Returns every
    step with its outcome and seconds; the last step's outcome is "done" when the unit started.
    A host that does not answer over SSH raises HostError."""
    steps: list[dict[str, Any]] = []

    def step(action: str, limit: float) -> bool:
        start = time.monotonic()
        outcome = "done"
        try:
            ssh.run(
                host,
                as_root(host, f"systemctl {action} {q(unit)}"),
                timeout=limit,
                what=f"systemctl {action} {unit}",
            )
        except HostError:
            raise
        except ProcessError as exc:
            outcome = exc.what
        steps.append(
            {
                "step": f"systemctl {action} {unit}",
                "seconds": round(time.monotonic() - start, 1),
                "outcome": outcome,
            }
        )
        return outcome == "done"

    if not step("restart", timeout):
        step("kill --signal=SIGKILL", KILL_S)
        step("start", max(timeout, KILL_S))  # nothing left to stop: only the start's own time
    return steps


def q(text: str) -> str:
    return shlex.quote(text)
