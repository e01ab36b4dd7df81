"""A server that stopped serving during a pair: waited for after a failed cell (systemd restarts a
killed framework), and restarted before the next pair when it does not come back on its own.
"""

from __future__ import annotations

import time

from kit import deploy, envstate, frameworks, ssh
from kit.bench.run import Run
from kit.context import Context, Progress
from kit.errors import KitError


class ServerGone(KitError):
    """A server stopped answering in a cell and did not come back: its pair's other cells are not run."""


def await_server(ctx: Context, framework: str, scenario: str, wait_s: float, progress: Progress) -> None:
    """After a failed cell: wait until the server serves a correct prediction again, or raise
    ServerGone once `wait_s` has passed."""
    server = ctx.hosts.server(framework)
    start = time.monotonic()
    progress(f"waiting up to {wait_s:g} s for {server.name} to serve {scenario} again")
    why = deploy.wait_serving(ctx, framework, scenario, wait_s)
    if why:
        raise ServerGone(
            f"not run: {server.name} ({server.private_ip}) did not serve {framework}/{scenario} "
            f"again within {wait_s:g} s of a failed cell ({why})",
            f"Check it with `kit status`; `kit up` starts a stopped host, then bench the pair "
            f"again with `kit bench {framework} {scenario}`",
        )
    progress(f"{server.name} serves {scenario} again after {time.monotonic() - start:.0f} s")


def restart_server(
    ctx: Context,
    run: Run,
    pair: tuple[str, str],
    why: str,
    wait_s: float,
    part: int,
    progress: Progress,
) -> None:
    """A server that stopped serving (hung, or still working off an overload's backlog) would fail
    the next pair's deploy on it and take core time from the servers that share its cores: its
    framework's service is restarted and waited for. Recorded in the manifest (`restarts`) and the
    report, because it happened between measured cells."""
    framework, scenario = pair
    server = ctx.hosts.server(framework)
    unit = frameworks.get(framework).service
    progress(f"restarting {unit} on {server.name}: it did not serve {framework}/{scenario} again")
    start = time.monotonic()
    try:
        ssh.restart_service(ctx.ssh, server, unit)
        still = deploy.wait_serving(ctx, framework, scenario, wait_s)
        outcome = f"still not serving after {wait_s:g} s ({still})" if still else "serving again"
    except KitError as exc:
        still, outcome = exc.what, f"restart failed: {exc.what}"
    entry = {
        "framework": framework,
        "host": server.name,
        "after": f"{framework}/{scenario}",
        "part": part,
        "reason": why,
        "at": envstate.now(),
        "seconds": round(time.monotonic() - start, 1),
        "serving": not still,
        "outcome": outcome,
    }
    run.record_restart(entry)
    progress(f"{unit} on {server.name}: {outcome} ({entry['seconds']:g} s)")
