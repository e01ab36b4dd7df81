"""The parts of a bench cell that need no host: its rows from either engine's output, and its
telemetry labelled by the engine's own start time and stored beside the rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from kit.bench.cell import cell_rows, store_telemetry
from kit.load.plan import Phase, Plan, Target
from kit.provision.inventory import Host
from kit.results.schema import RAW_SCHEMA
from kit.ssh import as_root
from kit.telemetry import frames
from kit.telemetry.remote_sampler import Fetched

DATA = Path(__file__).parents[1] / "data"
NAMES = {
    "run_id": "r1",
    "framework": "mlserver",
    "scenario": "malware",
    "payload": "small",
    "rate": 50.0,
    "rep": 0,
}
PLAN = Plan(
    targets=[Target("POST", "http://10.78.0.23:8090/v2/models/malware/infer", {}, b"{}")],
    phases=[Phase("warmup", 50, 1.0), Phase("measure", 50, 2.0)],
)


def test_rows_come_from_the_engines_csv_or_vegetas_records(tmp_path: Path) -> None:
    assert cell_rows("kit", tmp_path, "c1", PLAN, NAMES) is None  # the engine left nothing
    assert cell_rows("vegeta", tmp_path, "c1", PLAN, NAMES) is None
    header = "phase,seq,intended_ns,sent_ns,done_ns,code,bytes_out,bytes_in,error\n"
    (tmp_path / "c1.engine.csv").write_text(
        header + "measure,1,20,21,30,200,2,3,\nwarmup,0,10,11,15,200,2,3,\n"
    )
    rows = cell_rows("kit", tmp_path, "c1", PLAN, NAMES)
    assert rows is not None and rows.schema == pl.Schema(RAW_SCHEMA) and rows["seq"].to_list() == [0, 1]
    assert set(rows["engine"]) == {"kit"}
    shutil.copy(DATA / "vegeta" / "cell.jsonl", tmp_path / "c1.vegeta.jsonl")
    rows = cell_rows("vegeta", tmp_path, "c1", PLAN, NAMES)
    assert rows is not None and rows.height == 10 and set(rows["engine"]) == {"vegeta"}


def test_telemetry_is_labelled_from_the_engines_t0_and_warns_of_a_busy_client(tmp_path: Path) -> None:
    server = (DATA / "telemetry" / "mlserver-lxd.sampler.jsonl").read_text()
    stamps = [s["ts_ns"] for s in frames.read_samples(server)[1]]
    t0 = stamps[0] - 500_000_000  # sample 0 half a second into the warm-up, 1 and 2 measured, 3 after
    busy_client = '{"event": "start", "scope": "host", "cpus": 1}\n' + "".join(
        json.dumps({"ts_ns": t, "cpu_pct": 97.0, "rss_bytes": 70_000_000, "procs": 10}) + "\n" for t in stamps
    )
    fetched = [Fetched("kit-srv-mlserver", "server", server), Fetched("kit-client", "client", busy_client)]
    rows = pl.DataFrame(schema=RAW_SCHEMA)
    path = tmp_path / "telemetry" / "rep0.parquet"
    warnings: list[str] = []
    summary = store_telemetry(fetched, path, "mlserver", PLAN, {"t0_ns": t0}, rows, warnings)
    stored = pl.read_parquet(path)
    assert stored.filter(pl.col("role") == "server")["phase"].to_list() == [
        "warmup",
        "measure",
        "measure",
        "idle",
    ]
    assert summary["server"]["samples"] == 2 and summary["client"]["cpu_mean_pct"] == 97.0
    assert warnings == [
        "client CPU 97 % during the measured phase (over 80 %): "
        "the client may have limited the load; use more client cores or a lower rate"
    ]


def test_the_engine_runs_as_root_through_sudo_for_other_ssh_users() -> None:
    root = Host(
        name="client",
        public_ip="10.78.0.10",
        private_ip="10.78.0.10",
        ssh_user="root",
        ssh_port=22,
        cpus=1,
        memory_mb=2048,
        gpu=False,
    )
    admin = root.model_copy(update={"ssh_user": "admin"})
    command = "cd /opt/kit/load && echo $$ > c.pid && exec python engine.py 'a b.json' c.csv"
    assert as_root(root, command) == command
    assert as_root(admin, command) == (
        "sudo -n sh -c 'cd /opt/kit/load && echo $$ > c.pid && exec python engine.py '\"'\"'a b.json'\"'\"' c.csv'"
    )
