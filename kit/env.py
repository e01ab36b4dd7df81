"""The environment's life: hosts made and converged (`kit up`), shown (`kit status`), removed
(`kit down`), and expired AWS runs reaped (`kit reap`).

Each stage is resumable: it reads `.kit/env.json` and skips what is already done with the same
inputs. Every function returns data; rendering is the CLI's job.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kit import envstate
from kit.configure import ansible, wheelhouse
from kit.context import Context, Progress, quiet
from kit.errors import KitError, UsageError
from kit.ids import require_framework
from kit.provision import aws_reap, inventory
from kit.provision.aws import Aws, Confirm
from kit.provision.local import Local, UpResult


@dataclass
class Provisioned:
    state: envstate.EnvState
    result: UpResult
    timings: dict[str, float]
    prov: Local | Aws


def provider(
    ctx: Context, name: str = "local", *, gpu: bool = False, confirm: Confirm | None = None
) -> Local | Aws:
    if name == "aws":
        return Aws(ctx.ws, gpu=gpu, confirm=confirm, settings=ctx.cfg.aws)
    if name != "local":
        raise UsageError(f"unknown provider '{name}'", "Use --provider local (the default) or aws")
    if gpu:
        raise UsageError("--gpu needs --provider aws", "The local provider has no GPUs; drop --gpu")
    return Local(ctx.ws)


def up(
    ctx: Context,
    provider_name: str = "local",
    progress: Progress = quiet,
    *,
    gpu: bool = False,
    confirm: Confirm | None = None,
) -> dict[str, Any]:
    """Hosts up and converged; rerunning resumes (same environment id, idempotent roles)."""
    provisioned = provision(ctx, provider_name, progress, gpu=gpu, confirm=confirm)
    state, result, timings = provisioned.state, provisioned.result, dict(provisioned.timings)

    start = time.monotonic()
    with provisioned.prov.install_cores(result.hosts, ctx.cfg.local, progress):
        play = ansible.run_playbook(
            "site.yml",
            ctx.ansible_inventory(result.hosts),
            workdir=ctx.ws.ansible,
            log=ctx.ws.log("ansible"),
            extravars={**ctx.role_vars(), **provider_vars(ctx, provider_name)},
            progress=progress,
        )
    timings["configure_s"] = time.monotonic() - start
    state.mark("configure", seconds=round(timings["configure_s"], 1), changed=play.total_changed)
    envstate.save(state, ctx.env_file)
    return {
        "env_id": state.env_id,
        "hosts": result.hosts.model_dump(),
        "image": result.image_alias,
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }


def provision(
    ctx: Context,
    provider_name: str = "local",
    progress: Progress = quiet,
    *,
    gpu: bool = False,
    confirm: Confirm | None = None,
) -> Provisioned:
    """The provision stage of `kit up`: hosts created (or resumed) and the inventory saved."""
    for fw in ctx.cfg.frameworks:
        require_framework(fw)
    prov = provider(ctx, provider_name, gpu=gpu, confirm=confirm)
    state = envstate.load(ctx.env_file) or envstate.EnvState(
        env_id=envstate.new_env_id(), provider=provider_name, created_at=envstate.now()
    )
    if state.provider != provider_name:
        raise UsageError(
            f"an environment on provider '{state.provider}' is up",
            "Run `kit down` first, then `kit up` with the other provider",
        )
    state.config_hash = ctx.cfg.digest()
    envstate.save(state, ctx.env_file)
    timings: dict[str, float] = {}

    # AWS hosts install the same pinned locks from the package index: no wheelhouse to share.
    roles = wheelhouse.roles_for(ctx.cfg.frameworks) if provider_name == "local" else []
    ctx.ws.wheelhouse.mkdir(parents=True, exist_ok=True)  # mounted into the hosts as they are made
    # The wheels download while the hosts are made (image build, boots): the hosts read the
    # wheelhouse only when their roles install, in the configure stage after this one.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wheelhouse")
    wheels = pool.submit(_wheelhouses, ctx, roles, progress)
    try:
        start = time.monotonic()
        result = prov.up(ctx.cfg, state.env_id, ctx.ws.wheelhouse, progress)
        timings["provision_s"] = time.monotonic() - start
        if result.image_build_s is not None:
            timings["image_build_s"] = result.image_build_s
        inventory.save(result.hosts, ctx.hosts_file)
        ctx.forget_hosts()
        state.image_alias = result.image_alias
        state.mark("provision", seconds=round(timings["provision_s"], 1))
        envstate.save(state, ctx.env_file)
    finally:
        pool.shutdown(wait=True)
    timings["wheelhouse_s"] = wheels.result()  # its error, if any, once the hosts are recorded
    return Provisioned(state, result, timings, prov)


def _wheelhouses(ctx: Context, roles: list[str], progress: Progress) -> float:
    start = time.monotonic()
    for role in roles:
        wheelhouse.build(role, ctx.ws.wheelhouse, ctx.ws.log("wheelhouse"), progress)
    return time.monotonic() - start


def provider_vars(ctx: Context, provider_name: str) -> dict[str, Any]:
    """Role variables that depend on the provider: AWS hosts install from the index, not /opt/wheels."""
    if provider_name != "aws":
        return {}
    return {f"{role}_wheelhouse": "" for role in wheelhouse.roles_for(ctx.cfg.frameworks)}


def reap(
    ctx: Context,
    run_id: str | None = None,
    *,
    dry_run: bool = False,
    region: str | None = None,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """AWS resources the kit tagged, of expired runs (or of `run_id`), found and deleted."""
    region = region or ctx.cfg.aws.region
    return aws_reap.reap(region, ctx.cfg.aws.endpoint, run_id=run_id, dry_run=dry_run, progress=progress)


def status(ctx: Context) -> dict[str, Any]:
    state = envstate.load(ctx.env_file)
    if state is None:
        return {"up": False, "hosts": []}
    rows = []
    if ctx.hosts_file.exists():
        for host in ctx.hosts.all():
            rows.append(
                {
                    "name": host.name,
                    "private_ip": host.private_ip,
                    "cpus": host.cpus,
                    "memory_mb": host.memory_mb,
                    "gpu": host.gpu,
                    "framework": getattr(host, "framework", None),
                    "reachable": _reachable(ctx, host),
                }
            )
    return {
        "up": True,
        "env_id": state.env_id,
        "provider": state.provider,
        "created_at": state.created_at,
        "stages": state.stages,
        "deployed": state.deployed,
        "hosts": rows,
    }


def _reachable(ctx: Context, host: inventory.Host) -> bool:
    try:
        ctx.ssh.run(host, "true", timeout=15, what="reachability check")
        return True
    except KitError:
        return False


def down(ctx: Context, provider_name: str | None = None, progress: Progress = quiet) -> dict[str, Any]:
    """Remove every host and the private network; works after any failure, and twice in a row."""
    state = envstate.load(ctx.env_file) if ctx.env_file.exists() else None
    name = provider_name or (state.provider if state else "local")
    start = time.monotonic()
    removed = provider(ctx, name).down(progress)
    ctx.hosts_file.unlink(missing_ok=True)
    ctx.env_file.unlink(missing_ok=True)
    ctx.forget_hosts()
    return {"removed": removed, "seconds": round(time.monotonic() - start, 1)}
