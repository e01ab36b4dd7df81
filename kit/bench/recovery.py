"""A server that stopped serving during a pair: waited for after a failed cell (systemd restarts a
killed framework), and restarted before the next pair when it does not come back on its own.
"""

from __future__ import annotations

import time
from typing import Any

from kit import deploy, envstate, frameworks, ssh
from kit.bench import protocol
from kit.bench.run import Run
from kit.config import BenchSettings
from kit.context import Context, Progress
from kit.errors import KitError


class ServerGone(KitError):
    """A server stopped answering in a cell and did not come back: its pair's other cells are not run."""

    def __init__(self, what: str, hint: str, *, after_cell: str = "") -> None:
        super().__init__(what, hint)
        #: What happened after the cell, said of the cell itself (not of the cells not run).
        self.after_cell = after_cell


def gone_after_overload(record: dict[str, Any], gone: ServerGone) -> str:
    """The reason of an overloaded cell whose server then did not come back: it was hung or gone, not
    busy (a backlog is worked off within the wait), so the cell failed."""
    return f"{gone.after_cell}; {record['reason']}; {protocol.LOOK}"


def await_server(ctx: Context, framework: str, scenario: str, wait_s: float, progress: Progress) -> None:
    """After a failed (or overloaded) cell: wait until the server serves a correct prediction again,
    or raise ServerGone once `wait_s` has passed (the cell then failed, whatever it was: an
    overloaded server works off its backlog within the wait)."""
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
            after_cell=f"{server.name} ({server.private_ip}) stopped answering: after the cell, it did not "
            f"serve {framework}/{scenario} again within {wait_s:g} s ({why})",
        )
    progress(f"{server.name} serves {scenario} again after {time.monotonic() - start:.0f} s")


def restart_server(
    ctx: Context,
    run: Run,
    pair: tuple[str, str],
    why: str,
    settings: BenchSettings,
    part: int,
    progress: Progress,
    *,
    serves_pair: bool = True,
) -> None:
    """A server left not serving, overloaded or undeployed (hung, or still working off an
    overload's backlog) would fail the next pair's deploy on it and take core time from the servers
    that share its cores: its framework's service is restarted (killed first when the restart does
    not finish within `restart_s`) and waited for: until it serves the pair's model again, or, when
    the pair's model was never deployed (`serves_pair` False), until its unit is active. Recorded in
    the manifest (`restarts`, every step with its outcome) and the report, because it happened
    between measured cells."""
    framework, scenario = pair
    server = ctx.hosts.server(framework)
    unit = frameworks.get(framework).service
    progress(f"restarting {unit} on {server.name}: {why[:80]}")
    start = time.monotonic()
    steps: list[dict[str, Any]] = []
    try:
        steps = ssh.restart_service(ctx.ssh, server, unit, timeout=settings.restart_s)
        if steps[-1]["outcome"] != "done":
            still, outcome = steps[-1]["outcome"], f"restart failed: {steps[-1]['outcome']}"
        else:
            still = _wait(ctx, pair, unit, settings.recover_s, serves_pair)
            waited = f"after {settings.recover_s:g} s"
            outcome = (
                f"still not serving {waited} ({still})"
                if still
                else ("serving again" if serves_pair else "active again")
            )
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
        "steps": steps,
        "serving": not still,
        "outcome": outcome,
    }
    run.record_restart(entry)
    progress(f"{unit} on {server.name}: {outcome} ({entry['seconds']:g} s)")


def _wait(ctx: Context, pair: tuple[str, str], unit: str, wait_s: float, serves_pair: bool) -> str:
    """ "" once the server serves the pair's model (or, without one, once its unit is active)."""
    if serves_pair:
        return deploy.wait_serving(ctx, *pair, wait_s)
    server = ctx.hosts.server(pair[0])
    start = time.monotonic()
    while True:
        res = ctx.ssh.run(
            server, f"systemctl is-active {ssh.q(unit)}", timeout=30, what="unit state", check=False
        )
        state = res.stdout.strip() or "unknown"
        if state == "active":
            return ""
        if time.monotonic() - start >= wait_s:
            return f"its unit is {state}"
        time.sleep(3)


def troubled(records: list[dict[str, Any]]) -> str:
    """Why a pair's server must be restarted before the next pair, from its cells' records: a cell
    that ended overloaded or failed may leave a backlog the server keeps working off; "" else."""
    bad = [r for r in records if r.get("status") in ("overloaded", "failed")]
    if not bad:
        return ""
    first = bad[0]
    where = f"{first['payload']} @ {first['rate']:g} req/s"
    return (
        f"{len(bad)} of the pair's {len(records)} cells ended overloaded or failed "
        f"(first: {where}: {first['status']}: {first.get('reason') or ''})"
    )
