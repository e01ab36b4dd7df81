"""The walking skeleton, for real: LXD hosts, Terraform, Ansible, MLServer, the engine, the report.

One environment for the module (bringing hosts up is the slow part); the tests run in file order and
the last one tears everything down and checks that nothing is left.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

from kit import proc
from kit.cli import cli
from kit.provision import lxd

#: Under what MLServer's malware model sustains on one shared core (about 20 req/s here): at 40 a
#: 20 s cell builds a backlog past the 10 s timeout and ends overloaded, which is not what these
#: tests are about.
RATE = 10
CONFIG = f"""
profile = "smoke"
frameworks = ["mlserver"]
scenarios = ["malware"]
[bench]
rates = [{RATE}]
duration_s = 3
warmup_s = 1
"""


def kit(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="kit")


def sh(*cmd: str) -> str:
    return proc.run(list(cmd), timeout=120, check=False).stdout


@pytest.fixture(scope="module")
def home(shared_home: Path, require_binaries: None, environment: Any) -> Iterator[Path]:
    config = shared_home / "skeleton.toml"
    config.write_text(CONFIG)
    with environment(KIT_HOME=str(shared_home), KIT_CONFIG=str(config)):
        try:
            yield shared_home
        finally:
            kit("down")  # whatever happened above, nothing stays up


def ssh(home: Path, ip: str, command: str) -> proc.Result:
    return proc.run(
        [
            "ssh",
            "-i",
            str(home / ".kit/ssh/id_ed25519"),
            "-o",
            f"UserKnownHostsFile={home / '.kit/ssh/known_hosts'}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            f"root@{ip}",
            command,
        ],
        timeout=60,
        check=False,
    )


def test_up_creates_private_hosts(home: Path) -> None:
    result = kit("up")
    assert result.exit_code == 0, result.stderr
    status = json.loads(kit("status", "--json").stdout)
    assert [(h["name"], h["reachable"]) for h in status["hosts"]] == [
        ("client", True),
        ("srv-mlserver", True),
    ]
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"
    routes = ssh(home, "10.78.0.10", "ip route").stdout
    assert "default" not in routes and "10.78.0.0/24" in routes
    assert ssh(home, "10.78.0.10", "nproc").stdout.strip() == "1"
    # The hosts shared both cores while their roles installed; each has its own set back.
    assert ssh(home, "10.78.0.23", "nproc").stdout.strip() == "1"
    assert [
        sh("lxc", "config", "get", f"kit-{h}", "limits.cpu").strip() for h in ("client", "srv-mlserver")
    ] == [
        "0-0",
        "1-1",
    ]
    log = (home / ".kit/logs/provision.log").read_text()
    assert "limits.cpu 0,1" in log  # they did share them
    assert (home / ".kit/ssh/id_ed25519").stat().st_mode & 0o777 == 0o600
    # The server listens on its private address only, on the explicit port.
    listening = ssh(home, "10.78.0.23", "ss -Hltn").stdout
    assert "10.78.0.23:8090" in listening and "0.0.0.0:8090" not in listening


def test_second_converge_changes_nothing(home: Path) -> None:
    assert kit("up").exit_code == 0
    env = json.loads((home / ".kit/env.json").read_text())
    assert env["stages"]["configure"]["changed"] == 0


def test_bench_and_report(home: Path) -> None:
    result = kit("bench", "mlserver", "malware")
    assert result.exit_code == 0, result.stderr
    run = max((home / "results").iterdir())
    man = json.loads((run / "manifest.json").read_text())
    (cell,) = man["cells"]
    # This machine's two cores are shared by the controller and both hosts: a client delayed past the
    # 1 ms send-lag gate is marked invalid, as it must be; anything else is a failure of the path.
    assert (cell["status"], cell["reason"]) == ("ok", "") or (
        cell["status"] == "invalid" and re.match(r"send-lag p99 [\d.]+ ms > 1 ms: the client", cell["reason"])
    ), cell
    assert man["parity"]["mlserver/malware"]["verdict"] == "pass"
    assert (
        man["frameworks"]["mlserver"]["version"] == "1.7.1" and man["hosts"]["srv-mlserver"]["cores"] == "1"
    )
    rows = pl.read_parquet(run / f"raw/mlserver/malware/small/{RATE}/rep0.parquet")
    assert rows.filter(pl.col("phase") == "measure").height == RATE * 3
    assert rows.filter(pl.col("phase") == "warmup").height == RATE
    assert (rows["code"] == 200).all()
    usage = pl.read_parquet(run / f"telemetry/mlserver/malware/small/{RATE}/rep0.parquet")
    assert {"server", "client"} <= set(usage["role"].unique()) and usage["rss_bytes"].max() > 50_000_000
    assert kit("report").exit_code == 0
    report = run / "report"
    assert f"| mlserver | malware | small | {RATE} |" in (report / "report.md").read_text()
    html = (report / "report.html").read_text()
    assert "data:image/png;base64," in html and "<link" not in html and 'src="http' not in html  # offline
    assert (report / "latency_cdf_malware_small.png").stat().st_size > 1000
    assert (report / "resources.png").stat().st_size > 1000  # telemetry was sampled and plotted


def test_ctrl_c_keeps_rows_and_marks_the_cell_partial(home: Path) -> None:
    # The environment forgets that malware is deployed, so the bench deploys it again first, through
    # ansible-runner in its own process (as `kit bench all` does for every pair): Ctrl-C must still
    # stop it after that (ansible-runner used to keep SIGINT for itself).
    env_file = home / ".kit/env.json"
    env = json.loads(env_file.read_text())
    del env["deployed"]["mlserver"]["malware"]
    env_file.write_text(json.dumps(env))
    ansible_log = home / ".kit/logs/ansible.log"
    deploys = ansible_log.read_text().count("=== ansible-playbook deploy.yml")
    before = set((home / "results").iterdir())
    child = subprocess.Popen(
        [str(Path(sys.executable).with_name("kit")), "bench", "mlserver", "malware", "--duration", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test session started in the background passes SIGINT on ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # The plan is written just before the engine starts: from then on rows are being measured.
        deadline = time.monotonic() + 300
        while not [p for p in home.glob("results/*/raw/**/*.plan.json") if p.parents[5] not in before]:
            assert child.poll() is None and time.monotonic() < deadline, child.communicate()
            time.sleep(0.5)
        time.sleep(6)  # warm-up (1 s) and a few seconds of the measured phase
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=180)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr
    assert ansible_log.read_text().count("=== ansible-playbook deploy.yml") == deploys + 1
    assert "Error: interrupted" in stderr.splitlines()
    (run,) = set((home / "results").iterdir()) - before
    man = json.loads((run / "manifest.json").read_text())
    assert [c["status"] for c in man["cells"]] == ["partial"]
    rows = pl.read_parquet(run / f"raw/mlserver/malware/small/{RATE}/rep0.parquet")
    measured = rows.filter(pl.col("phase") == "measure").height
    assert 0 < measured < RATE * 20  # flushed what was measured, not the whole schedule
    # Nothing left behind (the brackets keep pgrep from finding the shell that runs it).
    for ip, pattern in (("10.78.0.10", "load/[e]ngine.py"), ("10.78.0.23", "kit-telemetry/[s]ampler.py")):
        assert ssh(home, ip, f"pgrep -af '{pattern}' || true").stdout.strip() == "", ip


def test_resume_measures_the_cut_off_cell_again(home: Path) -> None:
    run = max(p for p in (home / "results").iterdir() if p.is_dir())  # the run Ctrl-C cut off
    cut = pl.read_parquet(run / f"raw/mlserver/malware/small/{RATE}/rep0.parquet")
    result = kit("bench", "all", "--resume", run.name)
    assert result.exit_code == 0, result.stderr
    man = json.loads((run / "manifest.json").read_text())
    (cell,) = man["cells"]
    assert cell["status"] in ("ok", "invalid"), (cell["status"], cell["reason"])
    assert cell["part"] == 1, cell
    assert f"superseded/part1/raw/mlserver/malware/small/{RATE}/rep0.parquet" in cell["superseded"]
    assert [p["cells_final_before"] for p in man["parts"]] == [0, 0]
    rows = pl.read_parquet(run / f"raw/mlserver/malware/small/{RATE}/rep0.parquet")
    assert rows.filter(pl.col("phase") == "measure").height == RATE * 20  # the run's own 20 s, whole
    kept = pl.read_parquet(run / f"superseded/part1/raw/mlserver/malware/small/{RATE}/rep0.parquet")
    assert kept.equals(cut)  # the cut-off rows are kept, moved aside, not rewritten
    again = kit("bench", "all", "--resume", run.name)
    assert again.exit_code == 0 and "Nothing left to measure" in again.stdout
    assert kit("report", run.name).exit_code == 0
    assert "Measured in 2 parts" in (run / "report" / "report.md").read_text()


def test_unreachable_server_is_named_and_healed(home: Path) -> None:
    lxd.lxc("stop", "kit-srv-mlserver", log=None)
    result = kit("deploy", "mlserver", "malware")
    assert result.exit_code == 1
    error = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert error and re.match(
        r"Error: host srv-mlserver \(10\.\d+\.\d+\.\d+\) did not answer over SSH", error[0]
    )
    assert kit("up").exit_code == 0  # resumes: starts the stopped host
    assert kit("deploy", "mlserver", "malware").exit_code == 0


def test_down_leaves_nothing(home: Path) -> None:
    assert kit("down").exit_code == 0
    assert lxd.kit_instances(None) == []
    assert "kitbr0" not in sh("lxc", "network", "list", "--format=csv")
    assert "serving-kit" not in sh("lxc", "profile", "list", "--format=csv")
    assert not (home / ".kit/terraform/local/terraform.tfstate").exists()
    assert not (home / ".kit/ssh/id_ed25519").exists()
    # No process of this environment: ssh/ansible/terraform (they name the workspace), remote engines.
    # The LXD daemon may name the workspace too (its log, when `kit up` started it) and outlives
    # `kit down` on purpose: it is the machine's service, not this environment's.
    left = sh("pgrep", "-af", f"{home}|/opt/kit/shipped/engine.py").splitlines()
    assert [ln for ln in left if " lxd --group " not in ln] == []  # the daemon and its supervisor
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"
    assert kit("down").exit_code == 0  # twice in a row is fine
