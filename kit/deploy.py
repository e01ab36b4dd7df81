"""Models built and shipped: `kit build`, `kit parity`, `kit deploy`, and the checks that a server
serves the built model (parity from the client host, availability of its framework on its host).

Parity runs through the running server before any benchmark (docs/design.md section 5):
a server that answers fast but wrong must never be measured.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kit import envstate, frameworks, scenarios
from kit.configure import ansible
from kit.context import Context, Progress, quiet
from kit.errors import KitError
from kit.ids import require_framework


def build(ctx: Context, scenario: str, progress: Progress = quiet) -> scenarios.BuildResult:
    """The scenario's source model and its five exports, rebuilt only when an input changed."""
    scn = scenarios.get(scenario)
    progress(f"building {scenario} (cached by content)")
    return scenarios.build_cached(scn, ctx.ws.artifacts / scenario, seed=ctx.cfg.seed, progress=progress)


def build_all(ctx: Context, ids: list[str], progress: Progress = quiet) -> list[scenarios.BuildResult]:
    return [build(ctx, scenario, progress) for scenario in ids]


def parity_in_process(ctx: Context, ids: list[str], progress: Progress = quiet) -> dict[str, Any]:
    """Every export of every scenario, loaded here, against its source model (before any server)."""
    results: dict[str, Any] = {}
    for scenario in ids:
        built = build(ctx, scenario, progress)
        progress(f"parity of {scenario}: loading its five exports in process")
        results[scenario] = scenarios.parity_in_process(scenarios.get(scenario), built, ctx.cfg.seed)
    return results


def deploy(ctx: Context, framework: str, scenario: str, progress: Progress = quiet) -> dict[str, Any]:
    require_framework(framework)
    state = ctx.state()
    server = ctx.hosts.server(framework)
    reason = unavailable(ctx, framework)
    if reason:
        raise KitError(
            f"{framework} cannot run on {server.name}: {reason}",
            "Its bench cells are recorded as skipped; a host that can reach its package "
            "repository (e.g. --provider aws) can run it",
        )
    built = build(ctx, scenario, progress)
    export_dir = built.exports.get(framework)
    if export_dir is None:
        raise KitError(
            f"scenario {scenario} has no {framework} export",
            f"Exports available: {', '.join(sorted(built.exports)) or 'none'}",
        )
    start = time.monotonic()
    ansible.run_playbook(
        "deploy.yml",
        ctx.ansible_inventory(ctx.hosts),
        workdir=ctx.ws.ansible,
        log=ctx.ws.log("ansible"),
        extravars={
            **ctx.role_vars(),
            "kit_framework": framework,
            "kit_scenario": scenario,
            "kit_export_dir": str(export_dir),
        },
        limit=server.name,
        progress=progress,
    )
    seconds = time.monotonic() - start
    progress(f"parity check of {framework}/{scenario} from the client host")
    parity = server_parity(ctx, framework, scenario, built)
    state.deployed.setdefault(framework, {})[scenario] = built.digest
    envstate.save(state, ctx.env_file)
    return {
        "framework": framework,
        "scenario": scenario,
        "host": server.name,
        "seconds": round(seconds, 1),
        "model_digest": built.digest,
        "parity": parity,
    }


def unavailable(ctx: Context, framework: str) -> str | None:
    """Why the framework cannot run on its host (its role recorded so), or None when it can."""
    server = ctx.hosts.server(framework)
    res = ctx.ssh.run(
        server,
        f"cat /etc/ansible/facts.d/{framework}.fact 2>/dev/null || true",
        timeout=30,
        what="reading the framework's availability",
    )
    if not res.stdout.strip():
        return None
    try:
        fact = json.loads(res.stdout)
    except json.JSONDecodeError:
        return None
    return None if fact.get("available", True) else str(fact.get("reason") or "unavailable on this host")


def server_parity(
    ctx: Context, framework: str, scenario: str, built: scenarios.BuildResult
) -> dict[str, Any]:
    """Send the scenario's parity inputs from the client host; the server must match in-process."""
    scn = scenarios.get(scenario)
    server = ctx.hosts.server(framework)
    path, body, content_type = scenarios.parity_request(scn, framework, ctx.cfg.seed)
    url = f"http://{server.private_ip}:{frameworks.get(framework).port}{path}"
    res = ctx.ssh.run(
        ctx.hosts.client,
        f"curl -sS --fail-with-body -m 30 -H 'Content-Type: {content_type}' --data-binary @- {url}",
        input=body.decode(),
        timeout=60,
        what=f"parity request to {framework}",
    )
    return scenarios.check_parity(scn, framework, built, ctx.cfg.seed, res.stdout)


def ensure_deployed(
    ctx: Context, framework: str, scenario: str, built: scenarios.BuildResult, progress: Progress
) -> dict[str, Any]:
    """Parity through the running server before any benchmark.

    A model recorded as deployed is checked, not trusted: a host that was recreated or restarted
    may not serve it any more, and then it is deployed again.
    """
    if ctx.state().deployed.get(framework, {}).get(scenario) == built.digest:
        progress(f"parity check of {framework}/{scenario} from the client host")
        try:
            return server_parity(ctx, framework, scenario, built)
        except KitError as exc:
            progress(f"{framework}/{scenario} is not served as deployed ({exc.what}): deploying again")
    parity: dict[str, Any] = deploy(ctx, framework, scenario, progress)["parity"]
    return parity


def not_serving(ctx: Context, framework: str, scenario: str) -> str:
    """Why the server does not serve a correct prediction now, or "" when it does."""
    try:
        server_parity(ctx, framework, scenario, build(ctx, scenario))
    except KitError as exc:
        return exc.what
    return ""


def wait_serving(ctx: Context, framework: str, scenario: str, wait_s: float) -> str:
    """ "" once the server serves a correct prediction, else why it still did not after `wait_s`."""
    start = time.monotonic()
    while why := not_serving(ctx, framework, scenario):
        if time.monotonic() - start >= wait_s:
            return why
        time.sleep(3)
    return ""
