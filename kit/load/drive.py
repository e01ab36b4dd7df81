"""Run the load engine (the kit's, or vegeta) on the client host over SSH and bring its rows back.

The engine (engine.py, which imports nothing from kit) is copied to the client with the cell's plan
and started there, so that the requests cross the network between client and server hosts. Its PID
is written first, so that an interrupted bench stops exactly the engine it started (SIGINT makes the
engine flush its rows) before fetching what was measured. vegeta runs the same way, from a script
(kit.load.vegeta.cell_script) whose PID is written first and which passes SIGINT on to vegeta.

On hosts whose SSH user is not root (the aws provider's images) the engine runs through `sudo -n`,
so that it may ask for real-time scheduling; its folder belongs to the SSH user, so that files are
copied in and out without it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from kit.errors import KitError
from kit.load import engine_rows, vegeta
from kit.load.plan import Plan, engine_path
from kit.provision.inventory import Host
from kit.results import store
from kit.ssh import Ssh, as_root, q

REMOTE_DIR = "/opt/kit/load"
ENGINE_PYTHON = "/opt/kit-load/bin/python"


@dataclass(frozen=True)
class EngineRun:
    csv_path: Path
    summary: dict[str, object]
    returncode: int
    interrupted: bool
    stderr_tail: str
    #: The replies the engine kept (plan.sample_every), fetched beside the rows; None without.
    samples_path: Path | None = None


def prepare_dir(ssh: Ssh, host: Host, folder: str) -> None:
    ssh.run(
        host,
        as_root(host, f"install -d -m 0755 -o {q(host.ssh_user)} {q(folder)}"),
        timeout=30,
        what="preparing the load folder",
    )


def run_cell(ssh: Ssh, client: Host, plan: Plan, cell_id: str, local_dir: Path) -> EngineRun:
    """Ship the plan, run it, fetch the CSV; on Ctrl-C stop the engine, fetch, then re-raise."""
    local_dir.mkdir(parents=True, exist_ok=True)
    plan_file = local_dir / f"{cell_id}.plan.json"
    store.write_sidecar(plan_file, plan.to_json())
    remote = f"{REMOTE_DIR}/{cell_id}"
    prepare_dir(ssh, client, REMOTE_DIR)
    ssh.put(client, engine_path(), f"{REMOTE_DIR}/engine.py")
    ssh.put(client, plan_file, f"{remote}.plan.json")
    command = (
        f"cd {q(REMOTE_DIR)} && rm -f {q(remote)}.csv && echo $$ > {q(remote)}.pid && "
        f"exec {ENGINE_PYTHON} engine.py {q(remote)}.plan.json {q(remote)}.csv"
    )
    budget = plan.seconds() + plan.drain_s + 120
    local_csv = local_dir / f"{cell_id}.engine.csv"
    try:
        res = ssh.run(client, as_root(client, command), timeout=budget, what="the load engine", check=False)
    except KeyboardInterrupt:
        _interrupt(ssh, client, remote)
        ssh.get(client, f"{remote}.csv", local_csv)
        raise  # a cut cell is measured again: its samples are not needed
    if res.returncode not in (0, 130):
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise KitError(
            f"the load engine failed on {client.name} (exit {res.returncode}): {tail[0]}",
            f"See {ssh.log}; is the load_client role converged (`kit up`)?",
        )
    ssh.get(client, f"{remote}.csv", local_csv)
    samples = None
    if plan.sample_every:
        samples = local_dir / f"{cell_id}.engine.samples.jsonl"
        ssh.get(client, f"{remote}.csv.samples.jsonl", samples)
    return EngineRun(
        local_csv,
        engine_rows.summary_from_stdout(res.stdout),
        res.returncode,
        res.returncode == 130,
        res.stderr[-2000:],
        samples,
    )


def _interrupt(ssh: Ssh, client: Host, remote: str) -> None:
    """SIGINT the engine this bench started (by its PID file) and wait for it to flush."""
    ssh.run(
        client,
        as_root(
            client,
            f"kill -INT $(cat {q(remote)}.pid) 2>/dev/null; "
            f"for i in $(seq 50); do kill -0 $(cat {q(remote)}.pid) 2>/dev/null || exit 0; sleep 0.2; done",
        ),
        timeout=30,
        what="stopping the load engine",
        check=False,
    )
    time.sleep(0.2)


# --- vegeta ---------------------------------------------------------------------------------------
VEGETA_FACT = "/etc/ansible/facts.d/vegeta.fact"  # the load_client role: installed, or why not
VEGETA_PROBE = f"command -v vegeta || true; echo ---; cat {VEGETA_FACT} 2>/dev/null || true"


@dataclass(frozen=True)
class VegetaRun:
    records_path: Path
    returncode: int
    interrupted: bool
    stderr_tail: str


def locate_vegeta(probe_output: str, host: str) -> str:
    """vegeta's path from VEGETA_PROBE's output, or the error saying why it is not there."""
    found, _, fact_text = probe_output.partition("---")
    path = found.strip().splitlines()[-1] if found.strip() else ""
    if path:
        return path
    reason = "not on its PATH"
    try:
        fact = json.loads(fact_text) if fact_text.strip() else {}
    except json.JSONDecodeError:
        fact = {}
    if isinstance(fact, dict) and fact.get("reason"):
        reason = f"the load_client role skipped it: {fact['reason']}"
    raise vegeta.missing_error(host, reason)


def require_vegeta(ssh: Ssh, client: Host) -> str:
    res = ssh.run(client, VEGETA_PROBE, timeout=30, what="looking for vegeta", check=False)
    return locate_vegeta(res.stdout, client.name)


def run_vegeta_cell(ssh: Ssh, client: Host, plan: Plan, cell_id: str, local_dir: Path) -> VegetaRun:
    """vegeta's attacks for the cell's phases, then its records; on Ctrl-C stop it, fetch, re-raise."""
    binary = require_vegeta(ssh, client)
    local_dir.mkdir(parents=True, exist_ok=True)
    workdir = f"{REMOTE_DIR}/{cell_id}.vegeta"
    targets = local_dir / f"{cell_id}.vegeta-targets.jsonl"
    script = local_dir / f"{cell_id}.vegeta.sh"
    targets.write_text(vegeta.targets_jsonl(plan))
    script.write_text(vegeta.cell_script(plan, workdir, binary))
    prepare_dir(ssh, client, REMOTE_DIR)
    prepare_dir(ssh, client, workdir)
    ssh.put(client, targets, f"{workdir}/targets.jsonl")
    ssh.put(client, script, f"{workdir}/cell.sh")
    budget = plan.seconds() + plan.timeout_s + 120
    local_records = local_dir / f"{cell_id}.vegeta.jsonl"
    try:
        command = as_root(client, f"exec bash {q(workdir)}/cell.sh")
        res = ssh.run(client, command, timeout=budget, what="vegeta", check=False)
    except KeyboardInterrupt:
        _interrupt(ssh, client, f"{workdir}/cell")
        ssh.get(client, f"{workdir}/records.jsonl", local_records)
        raise
    if res.returncode not in (0, 130):
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise KitError(
            f"vegeta failed on {client.name} (exit {res.returncode}): {tail[0]}",
            f"See {ssh.log}; the cell's script is {script}",
        )
    ssh.get(client, f"{workdir}/records.jsonl", local_records)
    return VegetaRun(local_records, res.returncode, res.returncode == 130, res.stderr[-2000:])
