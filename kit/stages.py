"""The orchestrator: runs the stages of DESIGN.md section 2 in order over the rooms below it.

provision -> configure -> build -> deploy -> bench -> collect -> aggregate -> report -> destroy.
Each stage is resumable: it reads `.kit/env.json` and skips what is already done with the same
inputs. Every function here returns data; rendering is the CLI's job.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from kit import __version__, envstate, frameworks, proc, remote, scenarios
from kit.config import BenchSettings, Config
from kit.configure import ansible, wheelhouse
from kit.configure import inventory as ans_inventory
from kit.errors import DiskFullError, KitError, UsageError
from kit.ids import FRAMEWORKS, SCENARIOS
from kit.load import client as load_client
from kit.load import collect, protocol, vegeta
from kit.load.plan import Plan, Target
from kit.paths import REPO_ROOT, Workspace
from kit.provision import inventory, reap
from kit.provision.aws import Aws, Confirm
from kit.provision.local import Local, UpResult
from kit.remote import Ssh, host_facts
from kit.report.build import build_report
from kit.results import aggregate, manifest, resume, store
from kit.telemetry import collect as telemetry
from kit.telemetry import remote as telemetry_remote

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Provisioned:
    state: envstate.EnvState
    result: UpResult
    timings: dict[str, float]
    prov: Local | Aws


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

    def provider(
        self, name: str = "local", *, gpu: bool = False, confirm: Confirm | None = None
    ) -> Local | Aws:
        if name == "aws":
            return Aws(self.ws, gpu=gpu, confirm=confirm, settings=self.cfg.aws)
        if name != "local":
            raise UsageError(f"unknown provider '{name}'", "Use --provider local (the default) or aws")
        if gpu:
            raise UsageError("--gpu needs --provider aws", "The local provider has no GPUs; drop --gpu")
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
    def up(
        self,
        provider: str = "local",
        progress: Progress = _quiet,
        *,
        gpu: bool = False,
        confirm: Confirm | None = None,
    ) -> dict[str, Any]:
        """Hosts up and converged; rerunning resumes (same environment id, idempotent roles)."""
        provisioned = self.provision(provider, progress, gpu=gpu, confirm=confirm)
        state, result, timings = provisioned.state, provisioned.result, dict(provisioned.timings)

        start = time.monotonic()
        with provisioned.prov.install_cores(result.hosts, self.cfg.local, progress):
            play = ansible.run_playbook(
                "site.yml",
                self.ansible_inventory(result.hosts),
                workdir=self.ws.ansible,
                log=self.ws.log("ansible"),
                extravars={**self.role_vars(), **self.provider_vars(provider)},
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

    def provision(
        self,
        provider: str = "local",
        progress: Progress = _quiet,
        *,
        gpu: bool = False,
        confirm: Confirm | None = None,
    ) -> Provisioned:
        """The provision stage of `kit up`: hosts created (or resumed) and the inventory saved."""
        for fw in self.cfg.frameworks:
            require_framework(fw)
        prov = self.provider(provider, gpu=gpu, confirm=confirm)
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

        # AWS hosts install the same pinned locks from the package index: no wheelhouse to share.
        roles = wheelhouse.roles_for(self.cfg.frameworks) if provider == "local" else []
        self.ws.wheelhouse.mkdir(parents=True, exist_ok=True)  # mounted into the hosts as they are made
        # The wheels download while the hosts are made (image build, boots): the hosts read the
        # wheelhouse only when their roles install, in the configure stage after this one.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wheelhouse")
        wheels = pool.submit(self._wheelhouses, roles, progress)
        try:
            start = time.monotonic()
            result = prov.up(self.cfg, state.env_id, self.ws.wheelhouse, progress)
            timings["provision_s"] = time.monotonic() - start
            if result.image_build_s is not None:
                timings["image_build_s"] = result.image_build_s
            inventory.save(result.hosts, self.hosts_file)
            state.image_alias = result.image_alias
            state.mark("provision", seconds=round(timings["provision_s"], 1))
            envstate.save(state, self.env_file)
        finally:
            pool.shutdown(wait=True)
        timings["wheelhouse_s"] = wheels.result()  # its error, if any, once the hosts are recorded
        return Provisioned(state, result, timings, prov)

    def _wheelhouses(self, roles: list[str], progress: Progress) -> float:
        start = time.monotonic()
        for role in roles:
            wheelhouse.build(role, self.ws.wheelhouse, self.ws.log("wheelhouse"), progress)
        return time.monotonic() - start

    def provider_vars(self, provider: str) -> dict[str, Any]:
        """Role variables that depend on the provider: AWS hosts install from the index, not /opt/wheels."""
        if provider != "aws":
            return {}
        return {f"{role}_wheelhouse": "" for role in wheelhouse.roles_for(self.cfg.frameworks)}

    def reap(
        self,
        run_id: str | None = None,
        *,
        dry_run: bool = False,
        region: str | None = None,
        progress: Progress = _quiet,
    ) -> dict[str, Any]:
        """AWS resources the kit tagged, of expired runs (or of `run_id`), found and deleted."""
        region = region or self.cfg.aws.region
        return reap.reap(region, self.cfg.aws.endpoint, run_id=run_id, dry_run=dry_run, progress=progress)

    def role_vars(self) -> dict[str, Any]:
        """The settings that make the comparison fair, set explicitly for every role and recorded."""
        fws = self.cfg.frameworks
        return {frameworks.get(fw).workers_var: self.cfg.settings_for(fw).workers for fw in fws}

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
        reason = self.unavailable(framework)
        if reason:
            raise KitError(f"{framework} cannot run on {server.name}: {reason}",
                           "Its bench cells are recorded as skipped; a host that can reach its package "
                           "repository (e.g. --provider aws) can run it")
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
                **self.role_vars(),
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

    def unavailable(self, framework: str) -> str | None:
        """Why the framework cannot run on its host (its role recorded so), or None when it can."""
        server = self.hosts().server(framework)
        res = self.ssh().run(server, f"cat /etc/ansible/facts.d/{framework}.fact 2>/dev/null || true",
                             timeout=30, what="reading the framework's availability")
        if not res.stdout.strip():
            return None
        try:
            fact = json.loads(res.stdout)
        except json.JSONDecodeError:
            return None
        return None if fact.get("available", True) else str(fact.get("reason") or "unavailable on this host")

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
        overrides: dict[str, Any] | None = None,
    ) -> Path:
        """Every (framework, scenario) pair x payload x rate x repetition; returns the run folder.

        `overrides` are the command line's bench options laid over the profile (kit.load.protocol).
        """
        settings = self.bench_settings(profile, overrides)
        state = envstate.require(self.env_file)
        run_id = run_id or new_run_id()
        run_dir = self.ws.results / run_id
        ssh = self.ssh()
        if settings.engine == "vegeta":
            load_client.require_vegeta(ssh, self.hosts().client)  # before any cell: the whole run needs it
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
        man["pairs"] = [list(p) for p in pairs]
        return self._bench_run(man, run_dir, pairs, settings, progress, on_cell)

    def resume_bench(
        self,
        run: str,
        progress: Progress = _quiet,
        on_cell: Callable[[dict[str, Any]], None] | None = None,
    ) -> Path:
        """Measure the cells of RUN that hold no final outcome (never run, or cut off by Ctrl-C),
        with the settings and pairs the run started with (kit.results.resume)."""
        run_dir = self.resolve_run(run)
        man = manifest.load(run_dir)
        resume.check_resumable(man, run_dir, self.cfg.digest())
        settings = BenchSettings.model_validate(man["config"]["bench"])
        pairs = [(fw, sc) for fw, sc in man.get("pairs") or []]
        if not pairs:  # a run from before pairs were recorded: its cells name them
            pairs = list(dict.fromkeys((c["framework"], c["scenario"]) for c in man["cells"]))
        done = resume.done_cells(man)
        if all(_cell_key(fw, sc, c) in done for fw, sc in pairs for c in protocol.cells(settings)):
            return run_dir  # nothing to measure: no host touched, no part recorded
        resume.first_part(man)
        envstate.require(self.env_file)
        if settings.engine == "vegeta":
            load_client.require_vegeta(self.ssh(), self.hosts().client)
        return self._bench_run(man, run_dir, pairs, settings, progress, on_cell)

    def _bench_run(
        self,
        man: manifest.Manifest,
        run_dir: Path,
        pairs: list[tuple[str, str]],
        settings: BenchSettings,
        progress: Progress,
        on_cell: Callable[[dict[str, Any]], None] | None,
    ) -> Path:
        """The pairs' cells that `man` holds no final outcome for, measured on today's hosts as one
        more part of the run (resume.start_part)."""
        state = envstate.require(self.env_file)
        hosts = self.hosts()
        run_id = man["run_id"]
        ssh = self.ssh()
        facts = {h.name: {**h.model_dump(), **host_facts(ssh, h)} for h in hosts.all()}
        if state.provider == "local":
            require_own_cores(facts)
        man["hosts"] = man["hosts"] or facts  # the first part's; later parts' are under `parts`
        part = resume.start_part(man, git_sha(), __version__, facts)
        done = resume.done_cells(man)
        manifest.save(run_dir, man)
        for framework, scenario in pairs:
            todo = [c for c in protocol.cells(settings) if _cell_key(framework, scenario, c) not in done]
            if not todo and not settings.sweep:
                continue  # every cell of the pair was measured in an earlier part
            start = time.monotonic()
            built = self.build(scenario)
            _same_model(man, scenario, built)
            # A framework that cannot run here, or whose deploy fails, does not stop the others:
            # its cells are recorded (skipped or failed, with the reason) and the run goes on.
            status, reason = "skipped", self.unavailable(framework)
            if reason is None:
                try:
                    parity = self._ensure_deployed(state, framework, scenario, built, progress)
                except KitError as exc:
                    status, reason = "failed", exc.what
            if reason is not None:
                unrun = [(c.payload, c.rate, c.rep) for c in todo]
                _record_unrun(man, run_dir, framework, scenario, unrun, status, reason, on_cell)
                continue
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
            stage = f"deploy:{framework}:{scenario}" + (f":part{part}" if part else "")
            man["stage_timings"][stage] = round(time.monotonic() - start, 1)
            manifest.save(run_dir, man)

            def step(cell: protocol.Cell, fw: str = framework, sc: str = scenario) -> dict[str, Any]:
                progress(f"bench {fw}/{sc} {cell.payload} @ {cell.rate:g} req/s rep {cell.rep}")
                moved = self._supersede_partial(man, run_dir, fw, sc, cell, part)
                try:
                    record = self._bench_cell(ssh, hosts, run_dir, run_id, fw, sc, settings, cell)
                    record["part"] = part
                    if moved:
                        record["superseded"] = moved
                except DiskFullError as full:
                    # Every later cell would fail the same way: stop the run, saying which cell it cut
                    # (in the manifest too, when the disk still has room for it).
                    with contextlib.suppress(KitError):
                        cut = [(cell.payload, cell.rate, cell.rep)]
                        _record_unrun(man, run_dir, fw, sc, cut, "failed", full.what, on_cell)
                    raise
                manifest.update_cell(man, record)
                manifest.save(run_dir, man)
                if on_cell:
                    on_cell(record)
                if record["status"] == "partial":
                    raise KeyboardInterrupt  # its rows are kept and the manifest says partial
                if record["status"] == "failed":
                    self._await_server(fw, sc, settings.recover_s, progress)
                time.sleep(settings.cooldown_s)
                return record

            try:
                if settings.sweep:
                    self._sweep(settings, man, run_dir, f"{framework}/{scenario}", step)
                else:
                    for cell in todo:
                        step(cell)
            except ServerGone as gone:
                # The run goes on with the next pair; this pair's cells not yet run say why they were not.
                progress(gone.what)
                if not settings.sweep:  # a sweep records why it stopped in its own report
                    measured = resume.done_cells(man)
                    rest = [(c.payload, c.rate, c.rep) for c in todo
                            if _cell_key(framework, scenario, c) not in measured]
                    _record_unrun(man, run_dir, framework, scenario, rest, "failed", gone.what, on_cell)
                self._restart_server(man, run_dir, (framework, scenario), gone.what, settings.recover_s, part,
                                     progress)
        return run_dir

    def _supersede_partial(
        self, man: manifest.Manifest, run_dir: Path, fw: str, sc: str, cell: protocol.Cell, part: int
    ) -> list[str]:
        """A cell cut off in an earlier part is measured again; its files move aside first (raw rows
        are never rewritten). Returns where they went, relative to the run, for its manifest entry."""
        key = _cell_key(fw, sc, cell)
        if not any(manifest.cell_key(c) == key and c["status"] == "partial" for c in man["cells"]):
            return []
        payload, rate, rep = cell.payload, cell.rate, cell.rep
        raw = store.raw_path(run_dir, fw, sc, payload, rate, rep)
        files = [raw, telemetry.telemetry_path(run_dir, fw, sc, payload, rate, rep)]
        name = cell_id(man["run_id"], fw, sc, cell)
        if raw.parent.is_dir():  # the engine's CSV and plan, the samplers' output
            files += sorted(p for p in raw.parent.iterdir()
                            if p.name == name or p.name.startswith(f"{name}."))
        return [str(p.relative_to(run_dir)) for p in resume.supersede(run_dir, files, part)]

    def _await_server(self, framework: str, scenario: str, wait_s: float, progress: Progress) -> None:
        """After a failed cell: wait until the server serves a correct prediction again (systemd
        restarts a killed framework), or raise ServerGone once `wait_s` has passed."""
        server = self.hosts().server(framework)
        start = time.monotonic()
        progress(f"waiting up to {wait_s:g} s for {server.name} to serve {scenario} again")
        why = self._wait_serving(framework, scenario, wait_s)
        if why:
            raise ServerGone(
                f"not run: {server.name} ({server.private_ip}) did not serve {framework}/{scenario} "
                f"again within {wait_s:g} s of a failed cell ({why})",
                f"Check it with `kit status`; `kit up` starts a stopped host, then bench the pair "
                f"again with `kit bench {framework} {scenario}`",
            )
        progress(f"{server.name} serves {scenario} again after {time.monotonic() - start:.0f} s")

    def _wait_serving(self, framework: str, scenario: str, wait_s: float) -> str:
        """"" once the server serves a correct prediction, else why it still did not after `wait_s`."""
        start = time.monotonic()
        while why := self._not_serving(framework, scenario):
            if time.monotonic() - start >= wait_s:
                return why
            time.sleep(3)
        return ""

    def _restart_server(
        self,
        man: manifest.Manifest,
        run_dir: Path,
        pair: tuple[str, str],
        why: str,
        wait_s: float,
        part: int,
        progress: Progress,
    ) -> None:
        """A server that stopped serving (hung, or still working off an overload's backlog) would fail
        the next pair's deploy on it and take core time from the servers that share its cores: its
        framework's service is restarted and waited for. Recorded in the manifest (`restarts`) and
        the report, because it happened between measured cells."""
        framework, scenario = pair
        server = self.hosts().server(framework)
        unit = frameworks.get(framework).service
        progress(f"restarting {unit} on {server.name}: it did not serve {framework}/{scenario} again")
        start = time.monotonic()
        try:
            remote.restart_service(self.ssh(), server, unit)
            still = self._wait_serving(framework, scenario, wait_s)
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
        man.setdefault("restarts", []).append(entry)
        manifest.save(run_dir, man)
        progress(f"{unit} on {server.name}: {outcome} ({entry['seconds']:g} s)")

    def sweep_results(self, run_dir: Path) -> dict[str, Any]:
        """The run's sweeps (pair/payload -> best rate, probes, why it stopped), empty without any."""
        sweeps: dict[str, Any] = manifest.load(run_dir).get("sweeps", {})
        return sweeps

    def bench_pairs(self, profile: str | None = None) -> list[tuple[str, str]]:
        """`kit bench all`: every configured framework x the profile's scenarios (else the config's)."""
        chosen = self.cfg.bench_settings(profile).scenarios or self.cfg.scenarios
        return [(fw, sc) for fw in self.cfg.frameworks for sc in chosen]

    def bench_settings(self, profile: str | None, overrides: dict[str, Any] | None = None) -> BenchSettings:
        """The profile's settings with the config's [bench] and the command line's options over them;
        every mistake refused here, before any host is touched."""
        settings = protocol.resolve(self.cfg.bench_settings(profile), overrides)
        if settings.sweep and settings.slo_p99_ms is None:
            raise UsageError("a sweep needs an SLO", "Give --slo-p99-ms with --sweep, e.g. --slo-p99-ms 100")
        if settings.engine == "vegeta" and settings.arrival != "constant":
            raise UsageError(
                "vegeta paces at a constant rate only",
                "Use --arrival constant with --engine vegeta, or --engine kit for Poisson arrivals",
            )
        return settings

    def _sweep(
        self,
        settings: BenchSettings,
        man: manifest.Manifest,
        run_dir: Path,
        pair: str,
        step: Callable[[protocol.Cell], dict[str, Any]],
    ) -> None:
        """Per payload, the highest rate whose p99 meets the SLO (protocol.Sweep), recorded in the
        manifest under `sweeps`, also when Ctrl-C cuts it short."""
        assert settings.slo_p99_ms is not None
        sweeps: dict[str, Any] = man.setdefault("sweeps", {})  # type: ignore[typeddict-item]
        for payload in settings.payloads:
            sweep = protocol.Sweep(
                settings.slo_p99_ms,
                start=settings.rates[0],
                max_rate=settings.sweep_max_rate,
                max_probes=settings.sweep_max_probes,
                precision=settings.sweep_precision,
            )
            try:
                while (rate := sweep.next_rate()) is not None:
                    records = [step(protocol.Cell(payload, rate, k)) for k in range(settings.repetitions)]
                    sweep.record(rate, *_judged(records, settings.slo_p99_ms))
            except KeyboardInterrupt:
                sweep.stopped = sweep.stopped or "interrupted (Ctrl-C)"
                raise
            except ServerGone as gone:
                sweep.stopped = sweep.stopped or gone.what
                raise
            finally:
                sweeps[f"{pair}/{payload}"] = sweep.report()
                manifest.save(run_dir, man)

    def _bench_cell(
        self,
        ssh: Ssh,
        hosts: inventory.Hosts,
        run_dir: Path,
        run_id: str,
        framework: str,
        scenario: str,
        settings: BenchSettings,
        cell: protocol.Cell,
    ) -> dict[str, Any]:
        """One cell: samplers started, the engine run (warm-up then measured phase), samplers stopped,
        rows and telemetry stored, the verdict. Ctrl-C keeps what was measured and says `partial`."""
        payload, rate, rep = cell.payload, cell.rate, cell.rep
        server = hosts.server(framework)
        path, body, content_type = scenarios.get(scenario).payload(framework, payload, self.cfg.seed)
        url = f"http://{server.private_ip}:{frameworks.get(framework).port}{path}"
        plan = Plan(
            targets=[Target("POST", url, {"Content-Type": content_type}, body)],
            phases=protocol.phases(settings, rate),
            arrival=settings.arrival,
            seed=self.cfg.seed + rep,
            timeout_s=settings.timeout_s,
            keepalive=settings.keepalive,
            processes=settings.processes,
            realtime=settings.realtime,
        )
        raw_path = store.raw_path(run_dir, framework, scenario, payload, rate, rep)
        key = {"framework": framework, "scenario": scenario, "payload": payload, "rate": rate, "rep": rep}
        cid = cell_id(run_id, framework, scenario, cell)
        samplings, warnings = ([], [])
        if settings.telemetry:
            interval, longest = settings.telemetry_interval_s, plan.seconds() + plan.drain_s + 600
            samplings, warnings = telemetry_remote.start_cell(
                ssh, server, hosts.client, framework, cid, interval, longest
            )
        interrupted, failure = False, ""
        run: load_client.EngineRun | load_client.VegetaRun | None = None
        try:
            if settings.engine == "vegeta":
                run = load_client.run_vegeta_cell(ssh, hosts.client, plan, cid, raw_path.parent)
            else:
                run = load_client.run_cell(ssh, hosts.client, plan, cid, raw_path.parent)
        except KeyboardInterrupt:
            interrupted = True
        except DiskFullError:
            raise
        except KitError as exc:
            failure = exc.what
        finally:
            fetched, more = telemetry_remote.stop_cell(ssh, samplings, raw_path.parent / cid)
            warnings += more
        interrupted = interrupted or bool(run and run.interrupted)
        names = {"run_id": run_id, **key}
        rows = _cell_rows(settings.engine, raw_path.parent, cid, plan, names)
        if rows is None:
            why = "interrupted before any row was written" if interrupted else "the engine wrote no rows"
            status = "partial" if interrupted else "failed"
            return {**key, "status": status, "reason": failure or why, "summary": {"warnings": warnings}}
        store.write_raw(rows, raw_path)
        summary_rows = aggregate.summarize(rows.lazy())
        summary: dict[str, Any] = summary_rows.to_dicts()[0] if summary_rows.height else {}
        engine = run.summary if isinstance(run, load_client.EngineRun) else None
        summary["engine"] = engine or {"engine": settings.engine}
        if settings.engine == "vegeta":
            summary["engine"]["timing"] = vegeta.TIMING_NOTE
        if fetched:
            where = telemetry.telemetry_path(run_dir, framework, scenario, payload, rate, rep)
            summary["telemetry"] = _store_telemetry(
                fetched, where, framework, plan, engine, rows, warnings
            )
        summary["warnings"] = warnings
        if interrupted:
            reason = "interrupted (Ctrl-C): rows so far kept"
            return {**key, "status": "partial", "reason": reason, "summary": summary}
        if failure:
            return {**key, "status": "failed", "reason": failure, "summary": summary}
        status, reason = protocol.verdict(summary, engine)
        where = f"{server.name} ({server.private_ip})"
        lost = protocol.server_failure(rows, where)
        if lost:
            status, reason = "failed", lost
        elif status == "failed":
            reason = first_error(rows)
        elif summary.get("errors"):
            # Errors without a refused connection (timeouts: a host that vanished looks like that at
            # first): one prediction after the cell tells a slow server from a gone one.
            gone = self._not_serving(framework, scenario)
            if gone:
                status = "failed"
                reason = f"{where} stopped answering: after the cell, {gone}; {first_error(rows)}; "
                reason += protocol.LOOK
        return {**key, "status": status, "reason": reason, "summary": summary}

    def _not_serving(self, framework: str, scenario: str) -> str:
        """Why the server does not serve a correct prediction now, or "" when it does."""
        try:
            self.server_parity(framework, scenario, self.build(scenario))
        except KitError as exc:
            return exc.what
        return ""

    # --- report ------------------------------------------------------------------------------
    def report(self, run: str | None = None, refresh_prices: bool = False) -> dict[str, Any]:
        prices = self.ws.state / "prices"
        report = build_report(self.resolve_run(run), workspace_prices=prices, refresh_prices=refresh_prices)
        return report.checked()

    def compare(self, run_a: str, run_b: str) -> dict[str, Any]:
        from kit.results.compare import compare_runs

        return compare_runs(self.resolve_run(run_a), self.resolve_run(run_b)).to_dict()

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


def _cell_rows(
    engine: str, folder: Path, cell_id: str, plan: Plan, names: dict[str, Any]
) -> pl.DataFrame | None:
    """The cell's rows from what its engine left beside the raw rows, or None when it left nothing."""
    if engine == "vegeta":
        records = folder / f"{cell_id}.vegeta.jsonl"
        if not records.exists():
            return None
        return vegeta.rows_from_records(vegeta.read_records(records), [p.name for p in plan.phases], **names)
    csv_path = folder / f"{cell_id}.engine.csv"
    return collect.rows_from_engine_csv(csv_path, **names) if csv_path.exists() else None


def _store_telemetry(
    fetched: list[telemetry_remote.Fetched],
    path: Path,
    framework: str,
    plan: Plan,
    engine: dict[str, Any] | None,
    rows: pl.DataFrame,
    warnings: list[str],
) -> dict[str, Any]:
    """The cell's samples labelled by phase and stored; their summary returned, warnings appended.

    The kit's engine says when its schedule started (t0), so its phase windows are exact; vegeta's
    come from its rows."""
    if engine:
        phases = [(p.name, p.duration_s) for p in plan.phases]
        windows = telemetry.windows_from_plan(engine.get("t0_ns"), phases)
    else:
        windows = telemetry.windows_from_rows(rows)
    frame, more = telemetry.cell_frame(fetched, framework, windows)
    warnings += more
    telemetry.write(frame, path)
    summary = telemetry.summarize(frame)
    warning = protocol.client_cpu_warning(summary.get("client", {}).get("cpu_mean_pct"))
    warnings += [warning] if warning else []
    return summary


def _judged(records: list[dict[str, Any]], slo_p99_ms: float) -> tuple[float | None, str, str]:
    """A sweep probe's (worst p99, outcome, why), in Sweep.record's argument order."""
    outcome, worst, why = protocol.judge(records, slo_p99_ms)
    return worst, outcome, why


def _cell_key(framework: str, scenario: str, cell: protocol.Cell) -> tuple[Any, ...]:
    return manifest.cell_key(
        {"framework": framework, "scenario": scenario, "payload": cell.payload, "rate": cell.rate,
         "rep": cell.rep}
    )


def cell_id(run_id: str, framework: str, scenario: str, cell: protocol.Cell) -> str:
    """The name of a cell's files beside its raw rows (engine CSV, plan, samples) and on the hosts."""
    return f"{run_id}-{framework}-{scenario}-{cell.payload}-{cell.rate:g}-rep{cell.rep}"


def require_own_cores(facts: dict[str, dict[str, Any]]) -> None:
    """Nothing is measured on a host that sees more cores than its own (a `kit up` cut off while the
    hosts shared their cores for the installs, Local.install_cores)."""
    for name, f in sorted(facts.items()):
        if str(f.get("cores")) != str(f.get("cpus")):
            raise KitError(
                f"{name} sees {f.get('cores')} cores, not its own {f.get('cpus')}: its CPU set is not "
                "the one the kit gave it",
                "Run `kit up` again: it pins every host back to its own cores",
            )


def _same_model(man: manifest.Manifest, scenario: str, built: scenarios.BuildResult) -> None:
    """A resumed run measures the model its first part measured, or nothing."""
    before = (man["models"].get(scenario) or {}).get("digest")
    if before and before != built.digest:
        raise KitError(
            f"the {scenario} model built today (digest {built.digest}) is not the one {man['run_id']} "
            f"measured (digest {before})",
            "The scenario's code or seed changed since the run started; start a new run",
        )


class ServerGone(KitError):
    """A server stopped answering in a cell and did not come back: its pair's other cells are not run."""


def _record_unrun(
    man: manifest.Manifest,
    run_dir: Path,
    framework: str,
    scenario: str,
    unrun: list[tuple[str, float, int]],
    status: str,
    reason: str,
    on_cell: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Cells that were never run (framework skipped or undeployable, server gone) with the reason."""
    for payload, rate, rep in unrun:
        record = {"framework": framework, "scenario": scenario, "payload": payload, "rate": rate,
                  "rep": rep, "status": status, "reason": reason, "summary": {}}
        manifest.update_cell(man, record)
        if on_cell:
            on_cell(record)
    manifest.save(run_dir, man)


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
