"""The orchestrator: runs the stages of DESIGN.md section 2 in order over the rooms below it.

provision -> configure -> build -> deploy -> bench -> collect -> aggregate -> report -> destroy.
Each stage is resumable: it reads `.kit/env.json` and skips what is already done with the same
inputs. Every function here returns data; rendering is the CLI's job.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from kit import __version__, envstate, frameworks, proc, scenarios
from kit.config import BenchSettings, Config
from kit.configure import ansible, wheelhouse
from kit.configure import inventory as ans_inventory
from kit.errors import KitError, UsageError
from kit.ids import FRAMEWORKS, IMPLEMENTED_FRAMEWORKS, SCENARIOS
from kit.load import client as load_client
from kit.load import collect
from kit.load.plan import Phase, Plan, Target
from kit.paths import REPO_ROOT, Workspace
from kit.provision import inventory
from kit.provision.local import Local
from kit.remote import Ssh, host_facts
from kit.report.build import build_report
from kit.results import aggregate, manifest, store

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class Kit:
    """One workspace's stages; the CLI makes one and calls one method per command."""

    def __init__(self, cfg: Config, ws: Workspace | None = None) -> None:
        self.cfg = cfg
        self.ws = ws or Workspace.current()

    # --- paths and handles -------------------------------------------------------------------
    @property
    def env_file(self) -> Path:
        return self.ws.state / "env.json"

    @property
    def hosts_file(self) -> Path:
        return self.ws.state / "hosts.json"

    def provider(self, name: str = "local") -> Local:
        if name != "local":
            raise UsageError(f"provider '{name}' is not available yet", "Use --provider local (the default)")
        return Local(self.ws)

    def ssh(self) -> Ssh:
        key = self.ws.ssh / "id_ed25519"
        if not key.exists():
            raise KitError(
                "the environment's SSH key is missing", "Run `kit up` (or `kit down` then `kit up`)"
            )
        return Ssh(key, self.ws.ssh / "known_hosts", self.ws.log("ssh"))

    def hosts(self) -> inventory.Hosts:
        return inventory.load(self.hosts_file)

    def ansible_inventory(self, hosts: inventory.Hosts) -> dict[str, Any]:
        return ans_inventory.render(
            hosts, private_key=self.ws.ssh / "id_ed25519", known_hosts=self.ws.ssh / "known_hosts"
        )

    # --- provision + configure ---------------------------------------------------------------
    def up(self, provider: str = "local", progress: Progress = _quiet) -> dict[str, Any]:
        """Hosts up and converged; rerunning resumes (same environment id, idempotent roles)."""
        for fw in self.cfg.frameworks:
            require_framework(fw)
        prov = self.provider(provider)
        state = envstate.load(self.env_file) or envstate.EnvState(
            env_id=envstate.new_env_id(), provider=provider, created_at=envstate.now()
        )
        if state.provider != provider:
            raise UsageError(
                f"an environment on provider '{state.provider}' is up",
                "Run `kit down` first, then `kit up` with the other provider",
            )
        state.config_hash = self.cfg.digest()
        envstate.save(state, self.env_file)
        timings: dict[str, float] = {}

        start = time.monotonic()
        for role in wheelhouse.ROLES_WITH_LOCKS:
            wheelhouse.build(role, self.ws.wheelhouse, self.ws.log("wheelhouse"), progress)
        timings["wheelhouse_s"] = time.monotonic() - start

        start = time.monotonic()
        result = prov.up(self.cfg, state.env_id, self.ws.wheelhouse, progress)
        timings["provision_s"] = time.monotonic() - start
        if result.image_build_s is not None:
            timings["image_build_s"] = result.image_build_s
        inventory.save(result.hosts, self.hosts_file)
        state.image_alias = result.image_alias
        state.mark("provision", seconds=round(timings["provision_s"], 1))
        envstate.save(state, self.env_file)

        start = time.monotonic()
        extravars = {
            f"{fw}_parallel_workers" if fw == "mlserver" else f"{fw}_workers": self.cfg.settings_for(
                fw
            ).workers
            for fw in self.cfg.frameworks
        }
        play = ansible.run_playbook(
            "site.yml",
            self.ansible_inventory(result.hosts),
            workdir=self.ws.ansible,
            log=self.ws.log("ansible"),
            extravars=extravars,
            progress=progress,
        )
        timings["configure_s"] = time.monotonic() - start
        state.mark("configure", seconds=round(timings["configure_s"], 1), changed=play.total_changed)
        envstate.save(state, self.env_file)
        return {
            "env_id": state.env_id,
            "hosts": result.hosts.model_dump(),
            "image": result.image_alias,
            "timings": {k: round(v, 1) for k, v in timings.items()},
        }

    def status(self) -> dict[str, Any]:
        state = envstate.load(self.env_file)
        if state is None:
            return {"up": False, "hosts": []}
        hosts = self.hosts() if self.hosts_file.exists() else None
        rows = []
        if hosts:
            for host in hosts.all():
                rows.append(
                    {
                        "name": host.name,
                        "private_ip": host.private_ip,
                        "cpus": host.cpus,
                        "memory_mb": host.memory_mb,
                        "gpu": host.gpu,
                        "framework": getattr(host, "framework", None),
                        "reachable": self._reachable(host),
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

    def _reachable(self, host: inventory.Host) -> bool:
        try:
            self.ssh().run(host, "true", timeout=15, what="reachability check")
            return True
        except KitError:
            return False

    def down(self, provider: str | None = None, progress: Progress = _quiet) -> dict[str, Any]:
        """Remove every host and the private network; works after any failure, and twice in a row."""
        state = envstate.load(self.env_file) if self.env_file.exists() else None
        name = provider or (state.provider if state else "local")
        start = time.monotonic()
        removed = self.provider(name).down(progress)
        self.hosts_file.unlink(missing_ok=True)
        self.env_file.unlink(missing_ok=True)
        return {"removed": removed, "seconds": round(time.monotonic() - start, 1)}

    # --- build + deploy ------------------------------------------------------------------------
    def build(self, scenario: str, progress: Progress = _quiet) -> scenarios.BuildResult:
        """The scenario's source model and its five exports, rebuilt only when an input changed."""
        scn = scenarios.get(scenario)
        progress(f"building {scenario} (cached by content)")
        artifacts = self.ws.artifacts / scenario
        return scenarios.build_cached(scn, artifacts, seed=self.cfg.seed, progress=progress)

    def build_all(self, ids: list[str], progress: Progress = _quiet) -> list[scenarios.BuildResult]:
        return [self.build(scenario, progress) for scenario in ids]

    def parity_in_process(self, ids: list[str], progress: Progress = _quiet) -> dict[str, Any]:
        """Every export of every scenario, loaded here, against its source model (before any server)."""
        results: dict[str, Any] = {}
        for scenario in ids:
            built = self.build(scenario, progress)
            progress(f"parity of {scenario}: loading its five exports in process")
            results[scenario] = scenarios.parity_in_process(scenarios.get(scenario), built, self.cfg.seed)
        return results

    def deploy(self, framework: str, scenario: str, progress: Progress = _quiet) -> dict[str, Any]:
        require_framework(framework)
        state = envstate.require(self.env_file)
        hosts = self.hosts()
        server = hosts.server(framework)
        built = self.build(scenario, progress)
        export_dir = built.exports.get(framework)
        if export_dir is None:
            raise KitError(
                f"scenario {scenario} has no {framework} export",
                f"Exports available: {', '.join(sorted(built.exports)) or 'none'}",
            )
        start = time.monotonic()
        ansible.run_playbook(
            "deploy.yml",
            self.ansible_inventory(hosts),
            workdir=self.ws.ansible,
            log=self.ws.log("ansible"),
            extravars={
                "kit_framework": framework,
                "kit_scenario": scenario,
                "kit_export_dir": str(export_dir),
            },
            limit=server.name,
            progress=progress,
        )
        seconds = time.monotonic() - start
        progress(f"parity check of {framework}/{scenario} from the client host")
        parity = self.server_parity(framework, scenario, built)
        state.deployed.setdefault(framework, {})[scenario] = built.digest
        envstate.save(state, self.env_file)
        return {
            "framework": framework,
            "scenario": scenario,
            "host": server.name,
            "seconds": round(seconds, 1),
            "model_digest": built.digest,
            "parity": parity,
        }

    def server_parity(self, framework: str, scenario: str, built: scenarios.BuildResult) -> dict[str, Any]:
        """Send the scenario's parity inputs from the client host; the server must match in-process."""
        hosts = self.hosts()
        scn = scenarios.get(scenario)
        server = hosts.server(framework)
        path, body, content_type = scenarios.parity_request(scn, framework, self.cfg.seed)
        url = f"http://{server.private_ip}:{frameworks.get(framework).port}{path}"
        res = self.ssh().run(
            hosts.client,
            f"curl -sS --fail-with-body -m 30 -H 'Content-Type: {content_type}' --data-binary @- {url}",
            input=body.decode(),
            timeout=60,
            what=f"parity request to {framework}",
        )
        return scenarios.check_parity(scn, framework, built, self.cfg.seed, res.stdout)

    def _ensure_deployed(
        self,
        state: envstate.EnvState,
        framework: str,
        scenario: str,
        built: scenarios.BuildResult,
        progress: Progress,
    ) -> dict[str, Any]:
        """Parity through the running server before any benchmark (DESIGN.md section 5).

        A model recorded as deployed is checked, not trusted: a host that was recreated or restarted
        may not serve it any more, and then it is deployed again.
        """
        if state.deployed.get(framework, {}).get(scenario) == built.digest:
            progress(f"parity check of {framework}/{scenario} from the client host")
            try:
                return self.server_parity(framework, scenario, built)
            except KitError as exc:
                progress(f"{framework}/{scenario} is not served as deployed ({exc.what}): deploying again")
        parity: dict[str, Any] = self.deploy(framework, scenario, progress)["parity"]
        return parity

    # --- bench ---------------------------------------------------------------------------------
    def bench(
        self,
        pairs: list[tuple[str, str]],
        profile: str | None = None,
        run_id: str | None = None,
        progress: Progress = _quiet,
        on_cell: Callable[[dict[str, Any]], None] | None = None,
    ) -> Path:
        """Every (framework, scenario) pair x payload x rate x repetition; returns the run folder."""
        settings = self.cfg.bench_settings(profile)
        state = envstate.require(self.env_file)
        hosts = self.hosts()
        run_id = run_id or new_run_id()
        run_dir = self.ws.results / run_id
        ssh = self.ssh()
        man = manifest.new_manifest(
            run_id=run_id,
            kit_version=__version__,
            git_sha=git_sha(),
            config={
                **self.cfg.model_dump(mode="json"),
                "profile": profile or self.cfg.profile,
                "bench": settings.model_dump(mode="json"),
            },
            config_hash=self.cfg.digest(),
            provider=state.provider,
        )
        man["seeds"] = {"data": self.cfg.seed, "arrivals": self.cfg.seed}
        man["hosts"] = {h.name: {**h.model_dump(), **host_facts(ssh, h)} for h in hosts.all()}
        manifest.save(run_dir, man)
        for framework, scenario in pairs:
            start = time.monotonic()
            built = self.build(scenario)
            parity = self._ensure_deployed(state, framework, scenario, built, progress)
            state = envstate.require(self.env_file)
            man["models"][scenario] = {
                "digest": built.digest,
                "files": built.hashes,
                "metrics": built.metrics,
            }
            man.setdefault("parity", {})[f"{framework}/{scenario}"] = parity
            man["frameworks"][framework] = {
                "version": frameworks.get(framework).version,
                "settings": self.cfg.settings_for(framework).model_dump(),
                "ports": frameworks.get(framework).ports,
            }
            man["stage_timings"][f"deploy:{framework}:{scenario}"] = round(time.monotonic() - start, 1)
            manifest.save(run_dir, man)
            for cell in cells(settings):
                payload, rate, rep = cell
                progress(f"bench {framework}/{scenario} {payload} @ {rate:g} req/s rep {rep}")
                record = self._bench_cell(ssh, hosts, run_dir, run_id, framework, scenario, settings, cell)
                manifest.update_cell(man, record)
                manifest.save(run_dir, man)
                if on_cell:
                    on_cell(record)
                if record["status"] == "partial":
                    raise KeyboardInterrupt
                time.sleep(settings.cooldown_s)
        return run_dir

    def _bench_cell(
        self,
        ssh: Ssh,
        hosts: inventory.Hosts,
        run_dir: Path,
        run_id: str,
        framework: str,
        scenario: str,
        settings: BenchSettings,
        cell: tuple[str, float, int],
    ) -> dict[str, Any]:
        payload, rate, rep = cell
        scn = scenarios.get(scenario)
        server = hosts.server(framework)
        path, body, content_type = scn.payload(framework, payload, self.cfg.seed)
        phases = [Phase("measure", rate, settings.duration_s)]
        if settings.warmup_s > 0:
            phases.insert(0, Phase("warmup", rate, settings.warmup_s))
        plan = Plan(
            targets=[
                Target(
                    "POST",
                    f"http://{server.private_ip}:{frameworks.get(framework).port}{path}",
                    {"Content-Type": content_type},
                    body,
                )
            ],
            phases=phases,
            arrival=settings.arrival,
            seed=self.cfg.seed + rep,
            timeout_s=settings.timeout_s,
            keepalive=settings.keepalive,
        )
        raw_path = store.raw_path(run_dir, framework, scenario, payload, rate, rep)
        key = {"framework": framework, "scenario": scenario, "payload": payload, "rate": rate, "rep": rep}
        cell_id = f"{run_id}-{framework}-{scenario}-{payload}-{rate:g}-rep{rep}"
        interrupted = False
        try:
            run = load_client.run_cell(ssh, hosts.client, plan, cell_id, raw_path.parent)
        except KeyboardInterrupt:
            interrupted = True
            run = None
        except KitError as exc:
            return {**key, "status": "failed", "reason": exc.what, "summary": {}}
        csv_path = raw_path.parent / f"{cell_id}.engine.csv"
        if not csv_path.exists():
            return {
                **key,
                "status": "partial" if interrupted else "failed",
                "reason": "interrupted before any row was written" if interrupted else "engine wrote no rows",
                "summary": {},
            }
        rows = collect.rows_from_engine_csv(
            csv_path,
            run_id=run_id,
            framework=framework,
            scenario=scenario,
            payload=payload,
            rate=rate,
            rep=rep,
        )
        store.write_raw(rows, raw_path)
        summary_rows = aggregate.summarize(rows.lazy())
        summary = summary_rows.to_dicts()[0] if summary_rows.height else {}
        if run is not None:
            summary["engine"] = run.summary
        if interrupted or (run is not None and run.interrupted):
            return {
                **key,
                "status": "partial",
                "reason": "interrupted (Ctrl-C): rows so far kept",
                "summary": summary,
            }
        if not summary or summary.get("ok", 0) == 0:
            return {**key, "status": "failed", "reason": first_error(rows), "summary": summary}
        if not summary.get("valid", True):
            return {
                **key,
                "status": "invalid",
                "reason": summary.get("invalid_reason", ""),
                "summary": summary,
            }
        return {**key, "status": "ok", "reason": "", "summary": summary}

    # --- report ------------------------------------------------------------------------------
    def report(self, run: str | None = None) -> dict[str, Any]:
        run_dir = self.resolve_run(run)
        files = build_report(run_dir)
        summary = aggregate.summarize(store.scan_raw(run_dir))
        return {"run_id": run_dir.name, "files": [str(f) for f in files], "summary": summary.to_dicts()}

    def resolve_run(self, run: str | None) -> Path:
        root = self.ws.results
        if run:
            candidate = Path(run) if Path(run).is_dir() else root / run
            if not candidate.is_dir():
                raise UsageError(f"no run '{run}' under {root}", "List runs with `ls results/`")
            return candidate
        runs = sorted(p for p in root.glob("*") if (p / "manifest.json").exists()) if root.exists() else []
        if not runs:
            raise KitError(f"no runs under {root}", "Run `kit bench FRAMEWORK SCENARIO` first")
        return runs[-1]


def cells(settings: BenchSettings) -> list[tuple[str, float, int]]:
    return [(p, r, k) for p in settings.payloads for r in settings.rates for k in range(settings.repetitions)]


def first_error(rows: pl.DataFrame) -> str:
    measured = rows.filter(pl.col("phase") == "measure")
    bad = measured.filter((pl.col("code") < 200) | (pl.col("code") >= 300))
    if bad.height == 0:
        return "no measured requests"
    row = bad.row(0, named=True)
    detail = f"code {row['code']} {row['error'] or ''}".strip()
    return f"{bad.height}/{measured.height} requests failed; first: {detail}"


def require_framework(framework: str) -> None:
    if framework not in FRAMEWORKS:
        raise UsageError(f"unknown framework '{framework}'", f"Choose one of: {', '.join(FRAMEWORKS)}")
    if framework not in IMPLEMENTED_FRAMEWORKS:
        raise KitError(
            f"framework '{framework}' has no role yet",
            f"Frameworks available so far: {', '.join(IMPLEMENTED_FRAMEWORKS)}",
        )


def require_scenario(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario '{scenario}'", f"Choose one of: {', '.join(SCENARIOS)}")


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def git_sha() -> str:
    try:
        res = proc.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], timeout=10, check=False)
    except KitError:
        return "unknown"
    return res.stdout.strip() if res.returncode == 0 else "unknown"
