"""Faults on the local provider, each injected for real and its outcome asserted (issue 8).

One environment (client + srv-mlserver) for the module; the tests run in file order. Ctrl-C during
a bench is in test_local_path.py (the cell `partial`, rows flushed, then `kit down`).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

from kit import proc
from kit.cli import cli
from kit.provision import image, lxd

SERVER, SERVER_IP, CLIENT_IP = "kit-srv-mlserver", "10.78.0.23", "10.78.0.10"
CONFIG = """
profile = "smoke"
frameworks = ["mlserver"]
scenarios = ["malware"]
[bench]
rates = [10, 11]
duration_s = 10
warmup_s = 1
timeout_s = 2
recover_s = {recover_s}
"""


def kit(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="kit")


def sh(*cmd: str, check: bool = True) -> str:
    return proc.run(list(cmd), timeout=120, check=check).stdout


def in_server(command: str) -> str:
    return sh("lxc", "exec", SERVER, "--", "sh", "-c", command)


@pytest.fixture(scope="module")
def home(shared_home: Path, require_binaries: None, environment: Any) -> Iterator[Path]:
    config = shared_home / "faults.toml"
    config.write_text(CONFIG.format(recover_s=120))
    with environment(KIT_HOME=str(shared_home), KIT_CONFIG=str(config)):
        try:
            yield shared_home
        finally:
            kit("down")


BenchWithFault = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]


@pytest.fixture
def bench_with_fault(home: Path, kit_with_fault: BenchWithFault) -> BenchWithFault:
    """`kit bench mlserver malware` with `fault()` a few seconds into its first cell (conftest)."""

    def bench(
        fault: Callable[[], None], env: dict[str, str] | None = None, after_s: float = 4
    ) -> tuple[subprocess.CompletedProcess[str], Path]:
        results = Path(env["KIT_RESULTS"]) if env and "KIT_RESULTS" in env else home / "results"
        return kit_with_fault(results, ["bench", "mlserver", "malware"], fault, env, after_s)

    return bench


def cells(run: Path) -> list[dict[str, Any]]:
    return list(json.loads((run / "manifest.json").read_text())["cells"])


def test_up(home: Path) -> None:
    result = kit("up")
    assert result.exit_code == 0, result.stderr


def free_link_net() -> ipaddress.IPv4Network:
    """A /30 for the test's own link that overlaps nothing the controller already routes or holds
    (the machine's own network may well be a documentation range)."""
    used = [
        ipaddress.ip_network(word, strict=False)
        for line in sh("ip", "-o", "-4", "route", "show", "table", "all").splitlines()
        + sh("ip", "-o", "-4", "addr").splitlines()
        for word in line.split()
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+(/\d+)?", word)
    ]
    for candidate in ("198.51.100.248/30", "203.0.113.248/30", "100.127.255.248/30", "172.31.255.248/30"):
        net = ipaddress.ip_network(candidate)
        if not any(net.overlaps(u) for u in used):
            return net
    raise AssertionError(f"no free /30 for the test link among the candidates; in use: {used}")


def test_the_server_is_unreachable_from_outside_the_private_network(home: Path) -> None:
    # "Outside": a network namespace joined to the controller by its own link and routed through it.
    # The controller does not forward (ip_forward 0) and the bridge has no NAT, so nothing gets in.
    ns, out0, out1 = "kit-test-outside", "kit-out0", "kit-out1"
    ours, theirs = (str(h) for h in list(free_link_net().hosts())[:2])
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", out0, "type", "veth", "peer", "name", out1)
        sh("ip", "link", "set", out1, "netns", ns)
        sh("ip", "addr", "add", f"{ours}/30", "dev", out0)
        sh("ip", "link", "set", out0, "up")
        inside = ["ip", "netns", "exec", ns]
        sh(*inside, "ip", "addr", "add", f"{theirs}/30", "dev", out1)
        sh(*inside, "ip", "link", "set", out1, "up")
        sh(*inside, "ip", "route", "add", "default", "via", ours)
        # Positive control: from there, the controller's end of the link answers HTTP.
        empty = home / "outside-probe"
        empty.mkdir(exist_ok=True)
        listener = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", ours, "18080", "--directory", str(empty)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1)
            control = [
                *inside,
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-m",
                "4",
                f"http://{ours}:18080/",
            ]
            assert proc.run(control, timeout=30, check=False).stdout == "200"
        finally:
            listener.terminate()
            listener.wait(timeout=10)
        probe = [
            *inside,
            "curl",
            "-sS",
            "-m",
            "4",
            "-o",
            "/dev/null",
            f"http://{SERVER_IP}:8090/v2/health/ready",
        ]
        assert proc.run(probe, timeout=30, check=False).returncode in (7, 28)  # refused/unreachable, timeout
        # The same request from the client host, on the private network, is answered.
        assert "200" in sh(
            "lxc",
            "exec",
            "kit-client",
            "--",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-m",
            "4",
            f"http://{SERVER_IP}:8090/v2/health/ready",
        )
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"
    finally:
        proc.run(["ip", "link", "del", out0], timeout=30, check=False)
        proc.run(["ip", "netns", "del", ns], timeout=30, check=False)


def test_a_killed_framework_fails_its_cell_and_the_run_goes_on(bench_with_fault: BenchWithFault) -> None:
    def kill() -> None:
        in_server("kill -9 $(systemctl show -p MainPID --value mlserver)")

    result, run = bench_with_fault(kill)
    assert result.returncode == 0, result.stderr
    first, second = cells(run)
    assert first["status"] == "failed", first
    assert re.match(
        rf"srv-mlserver \({SERVER_IP}\) stopped answering during the measured phase: \d+/100 requests found it "
        r"gone \(first: Cannot connect to 10\.78\.0\.23:8090: .+\); check it with `kit status`",
        first["reason"],
    ), first["reason"]
    rows = pl.read_parquet(run / "raw/mlserver/malware/small/10/rep0.parquet").filter(
        pl.col("phase") == "measure"
    )
    assert rows.height == 100  # every scheduled request has its row, the failed ones as errors
    assert rows.filter(pl.col("code") == 0).height > 0 and rows.filter(pl.col("code") == 200).height > 0
    # systemd restarted MLServer; the bench waited for it and measured the next cell.
    assert second["rate"] == 11 and second["status"] in ("ok", "invalid"), second
    assert pl.read_parquet(run / "raw/mlserver/malware/small/11/rep0.parquet").height > 0


def test_a_stopped_server_host_fails_the_cell_naming_the_host(
    home: Path, environment: Any, bench_with_fault: BenchWithFault
) -> None:
    config = home / "faults-short-wait.toml"
    config.write_text(CONFIG.format(recover_s=15))
    with environment(KIT_CONFIG=str(config)):
        result, run = bench_with_fault(lambda: sh("lxc", "stop", "--force", SERVER))
    assert result.returncode == 0, result.stderr
    first, second = cells(run)
    assert first["status"] == "failed" and first["reason"].startswith(
        f"srv-mlserver ({SERVER_IP}) stopped answering"
    )
    assert "`kit up` starts a stopped host" in first["reason"]
    assert second["status"] == "failed" and second["reason"].startswith(
        f"not run: srv-mlserver ({SERVER_IP}) did not serve mlserver/malware again within 15 s of a failed cell"
    ), second
    # The kit tried to restart the framework's service before going on, and says that it could not.
    (restart,) = json.loads((run / "manifest.json").read_text())["restarts"]
    assert (restart["framework"], restart["after"], restart["serving"]) == (
        "mlserver",
        "mlserver/malware",
        False,
    )
    assert restart["outcome"] == f"restart failed: host srv-mlserver ({SERVER_IP}) did not answer over SSH"
    assert kit("up").exit_code == 0  # starts the stopped host; its server comes back with the model


def test_a_link_shaped_to_1_mbit_completes_and_the_report_shows_it(home: Path) -> None:
    # Both directions: tbf on the server's own interface (its replies) and on its veth on the controller
    # (requests to it). The kit records the server's own qdisc; the report names the shaping.
    veth = json.loads(sh("lxc", "query", f"/1.0/instances/{SERVER}/state"))["network"]["eth0"]["host_name"]
    tbf = ["root", "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms"]
    try:
        in_server("tc qdisc replace dev eth0 " + " ".join(tbf))
        sh("tc", "qdisc", "replace", "dev", veth, *tbf)
        result = kit("bench", "mlserver", "malware", "--rate", "10", "--duration", "5")
        assert result.exit_code == 0, result.stderr
        run = max((home / "results").iterdir())
        (cell,) = cells(run)
        assert cell["status"] in ("ok", "invalid"), cell
        link = json.loads((run / "manifest.json").read_text())["hosts"]["srv-mlserver"]["link"]
        assert re.match(r"eth0 qdisc tbf \S+ root refcnt \d+ rate 1Mbit", link), link
        assert kit("report").exit_code == 0
        text = (run / "report" / "report.md").read_text()
        assert "Shaped links (the host's own queueing discipline" in text and f"srv-mlserver: {link}" in text
    finally:
        in_server("tc qdisc del dev eth0 root || true")
        proc.run(["tc", "qdisc", "del", "dev", veth, "root"], timeout=30, check=False)


def test_a_full_results_disk_stops_the_bench_and_corrupts_nothing(
    home: Path,
    bench_with_fault: BenchWithFault,
    small_disk: Callable[[Path, str], AbstractContextManager[Path]],
    fill: Callable[[Path], int],
) -> None:
    with small_disk(home / "small-results", "2m") as disk:
        result, run = bench_with_fault(lambda: fill(disk), env={"KIT_RESULTS": str(disk)}, after_s=2)
        assert result.returncode == 1, result.stderr
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith(("Error:", "Hint:"))]
        assert re.match(
            r"Error: could not write .+: No space left on device \(the disk is full\)$", errors[0]
        )
        assert re.match(
            r"Hint: Free some disk space and rerun; nothing half-written was left behind; the file is still "
            r"on client at /opt/kit/load/\S+",
            errors[1],
        ), errors
        assert [p for p in run.rglob("*") if ".partial" in p.name] == []
        for parquet in run.rglob("*.parquet"):
            pl.read_parquet(parquet)  # whatever was written is whole
        json.loads((run / "manifest.json").read_text())  # the manifest as last saved


def test_no_secret_reaches_results_or_logs(home: Path) -> None:
    key = home / ".kit/ssh/id_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600
    secret = [ln for ln in key.read_text().splitlines() if ln and not ln.startswith("-----")]
    patterns = [
        re.compile(rb"PRIVATE KEY-----"),
        re.compile(rb"AKIA[0-9A-Z]{16}"),
        re.compile(rb"aws_secret_access_key", re.I),
        *[re.compile(re.escape(s.encode())) for s in secret],
    ]
    scanned = 0
    for folder in (home / "results", home / ".kit/logs"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                scanned += 1
                assert not [p.pattern for p in patterns if p.search(data)], path
    assert scanned > 20


def test_down_after_the_terraform_state_is_lost(home: Path) -> None:
    (home / ".kit/terraform/local/terraform.tfstate").unlink()
    result = kit("down")
    assert result.exit_code == 0, result.stderr
    assert lxd.kit_instances(None) == []
    assert "kitbr0" not in sh("lxc", "network", "list", "--format=csv")


def test_down_after_up_failed_halfway(home: Path) -> None:
    # An instance that is not the kit's holds the server's name: Terraform creates the client, then
    # fails on the server (twice: the apply is retried once). `kit down` removes what the kit made
    # and leaves the other instance alone.
    image = next(
        ln.split(",")[0]
        for ln in sh("lxc", "image", "list", "--format=csv", "-c", "l").splitlines()
        if ln.startswith("kit-debian12-")
    )
    sh("lxc", "init", image, SERVER, "-s", "kit", "--no-profiles")
    try:
        result = kit("up")
        assert result.exit_code == 1
        error = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
        assert (
            error
            and "an LXD instance named kit-srv-mlserver exists and was not made by serving-kit" in error[0]
        )
        assert [i["name"] for i in lxd.kit_instances(None)] == ["kit-client"]
        assert kit("down").exit_code == 0
        assert lxd.kit_instances(None) == []
        assert SERVER in sh("lxc", "list", "--format=csv", "-c", "n")
    finally:
        proc.run(["lxc", "delete", "--force", SERVER], timeout=120, check=False)
    assert kit("down").exit_code == 0


def test_down_after_the_image_build_failed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first stage of `kit up` fails for real: debootstrap, against this machine's own Debian
    # mirror, cannot find a package the (changed, so not cached) recipe asks for.
    recipe = functools.partial(image.ImageRecipe, packages=(*image.PACKAGES, "kit-no-such-package"))
    monkeypatch.setattr(image, "ImageRecipe", recipe)
    result = kit("up")
    assert result.exit_code == 1
    assert "Error: debootstrap of the Debian 12 base image failed" in result.stderr, result.stderr
    assert any(ln.startswith("Hint: Is http") and "reachable" in ln for ln in result.stderr.splitlines())
    assert recipe().alias not in sh("lxc", "image", "list", "--format=csv", "-c", "l")
    assert kit("down").exit_code == 0
    assert lxd.kit_instances(None) == []
    assert "kitbr0" not in sh("lxc", "network", "list", "--format=csv")
