"""Ansible playbooks through ansible-runner, with live progress and one actionable error.

ansible-runner starts ansible-playbook itself (under pexpect); it is the one library allowed to, as
python-terraform is not, because its event stream is what makes progress and failures precise: a
failed task comes back as the host, the task name and the module's message.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from kit import proc
from kit.errors import HostError, KitError
from kit.paths import ANSIBLE_DIR

Progress = Callable[[str], None]


@dataclass
class PlaybookResult:
    playbook: str
    status: str
    seconds: float
    changed: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    unreachable: list[dict[str, str]] = field(default_factory=list)
    log: str = ""

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())


def failure_from_event(event: Mapping[str, Any]) -> dict[str, str] | None:
    """The host, task and message of a failed or unreachable task event; None for other events."""
    kind = event.get("event")
    if kind not in ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed"):
        return None
    data = event.get("event_data", {})
    if kind == "runner_on_failed" and data.get("ignore_errors"):
        return None
    res = data.get("res", {}) or {}
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or "no message"
    if isinstance(msg, (list, dict)):
        msg = json.dumps(msg)
    return {
        "host": str(data.get("host", "?")),
        "task": str(data.get("task", "?")).strip(),
        "action": str(data.get("task_action", "")),
        "msg": " ".join(str(msg).split())[:600],
        "kind": kind,
    }


def summarize_events(events: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], list[dict[str, str]]]:
    changed: dict[str, int] = {}
    failures: list[dict[str, str]] = []
    # Handlers may be called out of order; the counter is the play's own order.
    for event in sorted(events, key=lambda e: int(e.get("counter", 0))):
        if event.get("event") == "playbook_on_stats":
            changed = dict(event.get("event_data", {}).get("changed", {}))
        found = failure_from_event(event)
        if found:
            failures.append(found)
    return changed, failures


def run_playbook(
    playbook: str,
    inventory: dict[str, Any],
    *,
    workdir: Path,
    log: Path,
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    check: bool = False,
    timeout: int = 3600,
    progress: Progress = lambda _: None,
    raise_on_failure: bool = True,
) -> PlaybookResult:
    """Run one playbook of ansible/ over the inventory and return what it changed.

    A failure raises HostError naming the host and task, with the log to read, unless
    `raise_on_failure` is off (then the caller decides what a failure means for its other hosts).
    """
    if shutil.which("ssh") is None:
        raise KitError(
            "ssh is not installed on this machine", "Install it: apt-get install -y openssh-client"
        )
    private = workdir / playbook.removesuffix(".yml")
    if private.exists():
        shutil.rmtree(private)
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts.json").write_text(json.dumps(inventory, indent=2))
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> bool:
        events.append(event)
        data = event.get("event_data", {})
        if event.get("event") == "playbook_on_task_start":
            progress(f"{playbook}: {data.get('task', '')}")
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            progress(f"{playbook}: FAILED on {data.get('host')}: {data.get('task')}")
        return True

    bin_dir = str(Path(sys.executable).parent)
    envvars = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": "10",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(private / "cp"),
    }
    start = time.monotonic()
    with own_signal_handlers():
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(ANSIBLE_DIR),
            playbook=playbook,
            extravars=dict(extravars or {}),
            limit=limit,
            cmdline="--check --diff" if check else None,
            envvars=envvars,
            quiet=True,
            timeout=timeout,
            event_handler=on_event,
        )
    seconds = time.monotonic() - start
    close_ssh_masters(private / "cp", log)
    stdout = runner.stdout.read() if runner.stdout else ""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(
            f"\n=== ansible-playbook {playbook} limit={limit} check={check}: {runner.status} "
            f"(rc {runner.rc}) after {seconds:.1f}s\n{stdout}"
        )
    raise_if_interrupted(str(runner.status))
    changed, failures = summarize_events(events)
    result = PlaybookResult(
        playbook,
        str(runner.status),
        seconds,
        changed,
        [f for f in failures if f["kind"] != "runner_on_unreachable"],
        [f for f in failures if f["kind"] == "runner_on_unreachable"],
        str(log),
    )
    if raise_on_failure:
        raise_for(result)
    return result


@contextlib.contextmanager
def own_signal_handlers() -> Iterator[None]:
    """ansible-runner, given no cancel callback, replaces the process's SIGINT and SIGTERM handlers
    with its own (they only flag the run to cancel) and never puts them back: after the first
    playbook, Ctrl-C and SIGTERM would no longer stop a `kit bench all` at all (the paper run showed
    it). Its handlers stay while it runs (Ctrl-C cancels the playbook); the kit's come back after."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


def raise_if_interrupted(status: str) -> None:
    """ansible-runner turns Ctrl-C into a run that ends `canceled` (its own handler, see
    own_signal_handlers): it must stop the command as Ctrl-C, not read as a failed deploy
    (which `kit bench` records against the pair's cells and then goes on with the next pair)."""
    if status == "canceled":
        raise KeyboardInterrupt


def close_ssh_masters(control_dir: Path, log: Path) -> None:
    """Stop the SSH connection masters Ansible left behind (ControlPersist keeps them for 60 s).

    They are processes the kit started: none may outlive the command that needed them.
    """
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        proc.run(
            ["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "kit-control-master"],
            timeout=15,
            log=log,
            check=False,
        )


def raise_for(result: PlaybookResult) -> None:
    if result.unreachable:
        first = result.unreachable[0]
        raise HostError(
            f"host {first['host']} did not answer over SSH: {first['msg']}",
            f"Check it with `kit status`; `kit down` then `kit up` recreates it. Log: {result.log}",
            host=first["host"],
        )
    if result.failures:
        # The last failure is the one that stopped the play: earlier ones may have been rescued.
        last = result.failures[-1]
        # A deliberate `fail`/`assert` already words the problem; other modules need the task's name.
        deliberate = last["action"].rsplit(".", 1)[-1] in ("fail", "assert")
        prefix = f"{last['host']}: " if deliberate else f"{last['task']} failed on {last['host']}: "
        raise HostError(
            prefix + last["msg"], f"Read {result.log} (the task's full output)", host=last["host"]
        )
    if result.status == "timeout":
        raise KitError(
            f"ansible-playbook {result.playbook} timed out after {result.seconds:.0f}s", f"Read {result.log}"
        )
    if result.status != "successful":
        raise KitError(f"ansible-playbook {result.playbook} ended {result.status}", f"Read {result.log}")
