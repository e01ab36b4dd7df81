"""The aws provider: the topology of docs/design.md on EC2, with its cost shown before anything is created.

`up` runs the preflight (credentials, region, types, zone, vCPU quotas, operator address, hourly
cost), asks to go on, then applies terraform/aws and waits until every instance passes its status
checks. `down` destroys through Terraform when its state is there, then deletes by tags whatever is
left of the run (a lost state file, a failure halfway), and fails loudly if anything remains.
The Terraform root is the same against AWS and against an emulator: only `aws_endpoint` differs.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kit import frameworks, proc
from kit.config import AwsProvider, Config
from kit.errors import KitError, ProcessError, UsageError
from kit.paths import TERRAFORM_DIR, Workspace
from kit.provision import aws_preflight, aws_reap, inventory, keys, tfcli
from kit.provision.aws_api import Clients, calling
from kit.provision.local import UpResult
from kit.provision.terraform import TerraformRoot
from kit.results import pricing

Progress = Callable[[str], None]
Confirm = Callable[[aws_preflight.Report], bool]


def host_names(fws: tuple[str, ...], gpu: bool) -> list[str]:
    """Inventory names (docs/design.md section 3): client, srv-<framework>, or gpu-<framework> with --gpu."""
    return ["client", *(f"{'gpu' if gpu else 'srv'}-{fw}" for fw in fws)]


def expires_at(now: datetime, ttl_hours: float) -> str:
    return (now + timedelta(hours=ttl_hours)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def serving_ports(fws: tuple[str, ...]) -> dict[str, list[int]]:
    return {fw: sorted(frameworks.get(fw).ports.values()) for fw in fws}


def known_hosts_lines(hosts: inventory.Hosts, host_keys: Path) -> list[str]:
    """One line per address of each host, with the host key the kit made and cloud-init installed."""
    lines = []
    for host in hosts.all():
        keytype, key = (host_keys / f"{host.name}_ed25519.pub").read_text().split()[:2]
        for address in dict.fromkeys([host.public_ip, host.private_ip]):
            lines.append(f"{address} {keytype} {key}")
    return lines


def terraform_error(output: str) -> str | None:
    """The first `Error: ...` summary of Terraform's output (its last line is only the config excerpt)."""
    for line in output.splitlines():
        text = line.strip().lstrip("│").strip()
        if text.startswith("Error: "):
            return text.removeprefix("Error: ")
    return None


class Aws:
    name = "aws"

    def __init__(
        self,
        ws: Workspace,
        *,
        gpu: bool = False,
        confirm: Confirm | None = None,
        settings: AwsProvider | None = None,
    ) -> None:
        self.ws = ws
        self.gpu = gpu
        self.confirm = confirm
        # Only `down` reads these (for the provider mirror); `up` takes the config it is given.
        self.settings = settings or AwsProvider()
        self.log = ws.log("provision")
        self.dir = ws.terraform / "aws"
        self.cli_config = self.dir / "terraformrc"
        self.tf = TerraformRoot(TERRAFORM_DIR / "aws", self.dir, self.log, cli_config=self.cli_config)

    @property
    def vars_file(self) -> Path:
        """The variables of the last apply: also the record `down` finds the run (and its region) by."""
        return self.dir / "last-apply.tfvars.json"

    @property
    def host_keys(self) -> Path:
        return self.ws.ssh / "hostkeys"

    @property
    def known_hosts(self) -> Path:
        return self.ws.ssh / "known_hosts"

    def recorded(self) -> dict[str, Any] | None:
        if not self.vars_file.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(self.vars_file.read_text())
        except json.JSONDecodeError:
            return None
        return data

    # --- up ------------------------------------------------------------------------------------
    def up(self, cfg: Config, run_id: str, wheelhouse: Path | None, progress: Progress) -> UpResult:
        """Preflight, confirmation, apply, wait; `wheelhouse` is unused (AWS hosts reach an index)."""
        a = cfg.aws
        now = datetime.now(UTC)
        previous = self.recorded()
        expiry = expires_at(now, a.ttl_hours)
        if previous and previous.get("run_id") == run_id:
            if bool(previous.get("gpu")) != self.gpu:
                with_or_without = "with" if previous.get("gpu") else "without"
                raise UsageError(
                    f"an environment {with_or_without} GPU servers is up",
                    "Run `kit down` first, then `kit up` with the other --gpu setting",
                )
            expiry = str(previous["expires_at"])
            if (aws_reap.parse_time(expiry) or now) <= now:
                raise KitError(
                    f"environment {run_id} expired at {expiry} (its hosts terminated themselves)",
                    "Run `kit down`, then `kit up` for a new environment",
                )
        clients = Clients(a.region, a.endpoint)
        server_type = a.gpu_server_instance_type if self.gpu else a.server_instance_type
        plan = aws_preflight.Plan(
            region=a.region,
            client_type=a.client_instance_type,
            server_type=server_type,
            servers=len(cfg.frameworks),
            gpu=self.gpu,
            volume_gb=a.root_volume_gb,
        )
        source = tfcli.find_source(a.provider_mirror)
        report = aws_preflight.run(
            clients,
            plan,
            run_id=run_id,
            owner=a.owner,
            operator_cidr=a.operator_cidr,
            ttl_hours=a.ttl_hours,
            expires_at=expiry,
            progress=progress,
            prices=pricing.current_table(pricing.workspace_folder(self.ws)),
        )
        if self.confirm is not None and not self.confirm(report):
            raise KitError(
                "kit up stopped at the cost question: nothing was created",
                "Rerun and answer y, or pass --yes to accept the estimate",
            )
        key = keys.ensure_keypair(self.ws.ssh, f"serving-kit-{run_id}", self.log)
        names = host_names(cfg.frameworks, self.gpu)
        self._ensure_host_keys(names)
        variables = {
            "run_id": run_id,
            "owner": report.owner,
            "expires_at": expiry,
            "region": a.region,
            "aws_endpoint": a.endpoint,
            "availability_zone": report.zone,
            "operator_cidr": report.operator_cidr,
            "ssh_public_key": str(keys.public_key(key)),
            "host_keys_dir": str(self.host_keys),
            "frameworks": list(cfg.frameworks),
            "serving_ports": serving_ports(cfg.frameworks),
            "gpu": self.gpu,
            "client_instance_type": a.client_instance_type,
            "server_instance_type": a.server_instance_type,
            "gpu_server_instance_type": a.gpu_server_instance_type,
            "root_volume_gb": a.root_volume_gb,
        }
        # Written before the apply: after a failure halfway, `kit down` finds the run by it.
        self.dir.mkdir(parents=True, exist_ok=True)
        self.vars_file.write_text(json.dumps(variables, indent=2))
        self._init(source, progress)
        progress(f"terraform apply: client + {len(cfg.frameworks)} server host(s) in {report.zone}")
        try:
            self.tf.apply(
                variables,
                on_line=lambda ln: progress("terraform: " + ln.strip()) if ln.strip() else None,
            )
        except ProcessError as exc:
            summary = terraform_error(exc.stderr_tail)
            if summary is None:
                raise
            raise KitError(f"terraform apply failed: {summary}", exc.hint) from exc
        hosts = inventory.parse(self.tf.output("hosts"))
        instances: dict[str, str] = self.tf.output("instances")
        self._wait_until_ready(clients, instances, progress)
        self.known_hosts.write_text("\n".join(known_hosts_lines(hosts, self.host_keys)) + "\n")
        images: dict[str, str] = self.tf.output("images")
        return UpResult(hosts, ", ".join(f"{k}: {v}" for k, v in sorted(images.items())), None)

    def _init(self, source: tfcli.Source, progress: Progress) -> None:
        tfcli.write(self.cli_config, source)
        progress(f"terraform init (hashicorp/aws from {source.describe()})")
        try:
            self.tf.init()
        except ProcessError as exc:
            if tfcli.provider_missing(exc.stderr_tail):
                raise tfcli.missing_provider_error(source, self.log) from exc
            raise

    def _ensure_host_keys(self, names: list[str]) -> None:
        """One ed25519 host key per host, made here so known_hosts is right before the first login."""
        self.host_keys.mkdir(parents=True, exist_ok=True)
        self.host_keys.chmod(0o700)
        for name in names:
            path = self.host_keys / f"{name}_ed25519"
            if not path.exists():
                proc.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"serving-kit {name}", "-f", path],
                    timeout=30,
                    log=self.log,
                    what=f"making the host key of {name}",
                )

    def _wait_until_ready(self, clients: Clients, instances: dict[str, str], progress: Progress) -> None:
        """Every instance passes EC2's status checks: booted, cloud-init's sshd answering."""
        progress(f"waiting for {len(instances)} instance(s) to pass their status checks")
        with calling("waiting for the instances' status checks"):
            clients.ec2.get_waiter("instance_status_ok").wait(
                InstanceIds=sorted(instances.values()), WaiterConfig={"Delay": 10, "MaxAttempts": 60}
            )

    @contextlib.contextmanager
    def install_cores(self, hosts: inventory.Hosts, spec: object, progress: Progress) -> Iterator[None]:
        """Each EC2 host has its own cores: nothing to lend while the roles install."""
        yield

    # --- down ----------------------------------------------------------------------------------
    def down(self, progress: Progress) -> list[str]:
        """Destroy through Terraform, then by tags whatever of the run is left; twice in a row is fine."""
        record = self.recorded()
        if record is None:
            progress("no AWS environment recorded in this workspace")
            self._forget()
            return []
        run_id = str(record["run_id"])
        clients = Clients(str(record["region"]), str(record.get("aws_endpoint", "")))
        removed: list[str] = []
        failure: KitError | None = None
        if self.tf.state_file.exists() and self._key_files_exist(record):
            try:
                self._init(tfcli.find_source(self.settings.provider_mirror), progress)
                if self.tf.resources():
                    progress("terraform destroy")
                    self.tf.destroy(
                        record,
                        on_line=lambda ln: progress("terraform: " + ln.strip()) if ln.strip() else None,
                    )
                    removed.append("terraform resources")
            except KitError as exc:
                # Not fatal yet: everything of the run is tagged, and the tags are tried next.
                failure = exc
                progress(f"terraform destroy failed ({exc.what}); deleting by tags")
        progress(f"looking for resources tagged RunId={run_id}")
        left = aws_reap.find(clients.ec2, run_id)
        if left:
            doomed = aws_reap.select(left, run_id=run_id, now=aws_reap.now_utc())
            removed += aws_reap.delete(clients.ec2, doomed, progress, sleep=time.sleep)
        remaining = aws_reap.find(clients.ec2, run_id)
        if remaining:
            names = ", ".join(r.label() for r in remaining[:5])
            raise KitError(
                f"{len(remaining)} resource(s) of run {run_id} are still there: {names}",
                f"Rerun `kit down`, or `kit reap --run-id {run_id}`; see the log {self.log}",
            ) from failure
        self._forget()
        return removed

    def _key_files_exist(self, record: dict[str, Any]) -> bool:
        pub = Path(str(record.get("ssh_public_key", "")))
        keys_dir = Path(str(record.get("host_keys_dir", "")))
        return pub.is_file() and keys_dir.is_dir()

    def _forget(self) -> None:
        """Nothing of the run is left on AWS: drop its local state, keys and record."""
        self.tf.state_file.unlink(missing_ok=True)
        self.tf.state_file.with_suffix(".tfstate.backup").unlink(missing_ok=True)
        self.vars_file.unlink(missing_ok=True)
        keys.remove_keypair(self.ws.ssh)
        if self.host_keys.is_dir():
            for f in self.host_keys.iterdir():
                f.unlink()
            self.host_keys.rmdir()
