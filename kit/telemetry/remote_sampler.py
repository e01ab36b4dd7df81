"""Start the sampler on a host before a cell, stop it after, and bring its lines back.

The sampler (sampler.py, stdlib only) is copied to the host and started in the background with
its PID written down, so that stopping it signals exactly that process. Telemetry must never cost
the measurement: a sampler that cannot start or be fetched is a warning on the cell, not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit import shipped
from kit.errors import KitError
from kit.provision.inventory import Host
from kit.ssh import Ssh, q

# World-writable (sticky) on every Linux host: no root needed, whatever the SSH user; the sampler
# only reads /proc and cgroup files, which any user may.
REMOTE_DIR = "/var/tmp/kit-telemetry"
STOP_WAIT_S = 5


def sampler_path() -> Path:
    return shipped.SAMPLER


@dataclass(frozen=True)
class Sampling:
    host: Host
    role: str  # server | client
    remote: str  # the JSON lines file on the host

    @property
    def pid_file(self) -> str:
        return f"{self.remote}.pid"


def start_command(
    remote: str, scope: list[str], interval_s: float, max_s: float, folder: str = REMOTE_DIR
) -> str:
    """The shell line that starts the sampler (in `folder`) detached, its output to a file and not
    to SSH, for at most max_s seconds: if the bench dies before stopping it, it does not sample on."""
    args = " ".join(q(a) for a in scope)
    return (
        f"mkdir -p {q(folder)} && rm -f {q(remote)} && "
        # The braces keep `&` to the sampler alone, so that $! is its PID (nohup execs it), not a
        # subshell's that would leave it running when killed.
        f"{{ nohup python3 {q(folder)}/sampler.py --out {q(remote)} --interval {interval_s:g} "
        f"--max-s {max_s:g} {args} > {q(remote)}.log 2>&1 < /dev/null & echo $! > {q(remote)}.pid; }}"
    )


def stop_command(remote: str) -> str:
    """SIGTERM the sampler by its PID file and wait for it to finish its last line."""
    pid = f"$(cat {q(remote)}.pid 2>/dev/null)"
    return (
        f'p={pid}; [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; '
        f'for i in $(seq {STOP_WAIT_S * 10}); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || exit 0; '
        "sleep 0.1; done"
    )


def start(
    ssh: Ssh, host: Host, role: str, scope: list[str], name: str, interval_s: float, max_s: float
) -> Sampling:
    remote = f"{REMOTE_DIR}/{name}.{role}.jsonl"
    ssh.run(host, f"mkdir -p {q(REMOTE_DIR)}", timeout=30, what="preparing the telemetry folder")
    ssh.put(host, sampler_path(), f"{REMOTE_DIR}/sampler.py")
    command = start_command(remote, scope, interval_s, max_s)
    ssh.run(host, command, timeout=30, what="starting the sampler")
    return Sampling(host, role, remote)


def stop(ssh: Ssh, sampling: Sampling, local: Path) -> Path:
    """Stop the sampler and fetch its lines to `local`; a KitError if either fails."""
    ssh.run(
        sampling.host, stop_command(sampling.remote), timeout=30, what="stopping the sampler", check=False
    )
    ssh.get(sampling.host, sampling.remote, local)
    if not local.exists():
        raise KitError(
            f"the sampler on {sampling.host.name} left no output",
            f"Read {sampling.remote}.log on {sampling.host.name}",
        )
    return local


def scope_for(role: str, framework: str) -> list[str]:
    """What the sampler measures: the framework's systemd unit (named after it by its role) on the
    server, the whole host on the client (where GPU figures mean nothing)."""
    return ["--unit", f"{framework}.service"] if role == "server" else ["--host", "--no-gpu"]


def start_cell(
    ssh: Ssh, server: Host, client: Host, framework: str, name: str, interval_s: float, max_s: float
) -> tuple[list[Sampling], list[str]]:
    """Samplers on the server and the client for one cell; what could not start is a warning."""
    started, warnings = [], []
    for role, host in (("server", server), ("client", client)):
        try:
            started.append(start(ssh, host, role, scope_for(role, framework), name, interval_s, max_s))
        except KitError as exc:
            warnings.append(f"no {role} telemetry: {exc.what}")
    return started, warnings


def stop_cell(ssh: Ssh, samplings: list[Sampling], local_prefix: Path) -> tuple[list[Fetched], list[str]]:
    """Stop the cell's samplers and fetch their lines beside the raw rows (kept as captured)."""
    fetched, warnings = [], []
    for s in samplings:
        local = local_prefix.with_name(f"{local_prefix.name}.{s.role}.telemetry.jsonl")
        try:
            stop(ssh, s, local)
            fetched.append(Fetched(s.host.name, s.role, local.read_text()))
        except (KitError, OSError) as exc:
            warnings.append(f"no {s.role} telemetry: {getattr(exc, 'what', exc)}")
    return fetched, warnings


@dataclass(frozen=True)
class Fetched:
    host: str
    role: str
    text: str
