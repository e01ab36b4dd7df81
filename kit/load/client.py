"""Run the load engine on the client host over SSH and bring its rows back.

The engine (engine.py, which imports nothing from kit) is copied to the client with the cell's plan
and started there, so that the requests cross the network between client and server hosts. Its PID
is written first, so that an interrupted bench stops exactly the engine it started (SIGINT makes the
engine flush its rows) before fetching what was measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kit.errors import KitError
from kit.load import collect
from kit.load.plan import Plan, engine_path
from kit.provision.inventory import Host
from kit.remote import Ssh, q

REMOTE_DIR = "/opt/kit/load"
ENGINE_PYTHON = "/opt/kit-load/bin/python"


@dataclass(frozen=True)
class EngineRun:
    csv_path: Path
    summary: dict[str, object]
    returncode: int
    interrupted: bool
    stderr_tail: str


def run_cell(ssh: Ssh, client: Host, plan: Plan, cell_id: str, local_dir: Path) -> EngineRun:
    """Ship the plan, run it, fetch the CSV; on Ctrl-C stop the engine, fetch, then re-raise."""
    local_dir.mkdir(parents=True, exist_ok=True)
    plan_file = local_dir / f"{cell_id}.plan.json"
    plan_file.write_text(plan.to_json())
    remote = f"{REMOTE_DIR}/{cell_id}"
    ssh.run(client, f"mkdir -p {q(REMOTE_DIR)}", timeout=30, what="preparing the load folder")
    ssh.put(client, engine_path(), f"{REMOTE_DIR}/engine.py")
    ssh.put(client, plan_file, f"{remote}.plan.json")
    command = (
        f"cd {q(REMOTE_DIR)} && rm -f {q(remote)}.csv && echo $$ > {q(remote)}.pid && "
        f"exec {ENGINE_PYTHON} engine.py {q(remote)}.plan.json {q(remote)}.csv"
    )
    budget = plan.seconds() + plan.drain_s + 120
    local_csv = local_dir / f"{cell_id}.engine.csv"
    try:
        res = ssh.run(client, command, timeout=budget, what="the load engine", check=False)
    except KeyboardInterrupt:
        _interrupt(ssh, client, remote)
        ssh.get(client, f"{remote}.csv", local_csv)
        raise
    if res.returncode not in (0, 130):
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise KitError(
            f"the load engine failed on {client.name} (exit {res.returncode}): {tail[0]}",
            f"See {ssh.log}; is the load_client role converged (`kit up`)?",
        )
    ssh.get(client, f"{remote}.csv", local_csv)
    return EngineRun(
        local_csv,
        collect.summary_from_stdout(res.stdout),
        res.returncode,
        res.returncode == 130,
        res.stderr[-2000:],
    )


def _interrupt(ssh: Ssh, client: Host, remote: str) -> None:
    """SIGINT the engine this bench started (by its PID file) and wait for it to flush."""
    ssh.run(
        client,
        f"kill -INT $(cat {q(remote)}.pid) 2>/dev/null; "
        f"for i in $(seq 50); do kill -0 $(cat {q(remote)}.pid) 2>/dev/null || exit 0; sleep 0.2; done",
        timeout=30,
        what="stopping the load engine",
        check=False,
    )
    time.sleep(0.2)
