"""vegeta as the load engine: its targets and commands built from a plan, its records parsed.

vegeta cannot be installed on this machine (no reachable registry has it), so the records are files
written from its documentation (tests/data/vegeta/README.md); the cell's shell script is checked by
bash itself, and the probe that finds vegeta runs for real here, where vegeta is missing.
"""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError, UsageError
from kit.load import vegeta
from kit.load.drive import VEGETA_PROBE, locate_vegeta
from kit.load.plan import Phase, Plan, Target
from kit.results.schema import RAW_SCHEMA

DATA = Path(__file__).parents[1] / "data" / "vegeta"
URL = "http://10.78.0.23:8090/v2/models/malware/infer"
CELL = {
    "run_id": "r1",
    "framework": "mlserver",
    "scenario": "malware",
    "payload": "small",
    "rate": 200,
    "rep": 0,
}
BASE_NS = int(datetime(2026, 11, 28, 16, 0, 0, tzinfo=UTC).timestamp()) * 1_000_000_000


def plan(**kw: object) -> Plan:
    body = b"\x00\x01binary{}"
    targets = [Target("POST", URL, {"Content-Type": "application/json", "X-Kit": "1"}, body)]
    phases = [Phase("warmup", 200, 10), Phase("measure", 200, 60)]
    return Plan(targets=targets, phases=phases, **kw)  # type: ignore[arg-type]


def test_targets_are_vegeta_json_lines_with_base64_bodies() -> None:
    lines = vegeta.targets_jsonl(plan()).splitlines()
    assert len(lines) == 1
    target = json.loads(lines[0])
    assert target == {
        "method": "POST",
        "url": URL,
        "body": base64.b64encode(b"\x00\x01binary{}").decode(),
        "header": {"Content-Type": ["application/json"], "X-Kit": ["1"]},
    }


@pytest.mark.parametrize(("rate", "flag"), [(200, "200/1s"), (12.5, "25/2s"), (0.5, "1/2s"), (1 / 3, "1/3s")])
def test_rates_become_whole_requests_per_period(rate: float, flag: str) -> None:
    assert vegeta.rate_flag(rate) == flag


@pytest.mark.parametrize(("seconds", "flag"), [(60, "60000ms"), (2.5, "2500ms"), (1000, "1000000ms")])
def test_durations_are_go_durations(seconds: float, flag: str) -> None:
    assert vegeta.duration_flag(seconds) == flag


def test_each_phase_is_one_open_loop_attack() -> None:
    cmd = vegeta.attack_command(
        plan(timeout_s=7.5, keepalive=False), 1, "t.jsonl", "measure.bin", "/usr/local/bin/vegeta"
    )
    assert cmd == [
        "/usr/local/bin/vegeta",
        "attack",
        "-format=json",
        "-targets=t.jsonl",
        "-name=measure",
        "-rate=200/1s",
        "-duration=60000ms",
        "-max-workers=18446744073709551615",
        "-timeout=7500ms",
        "-keepalive=false",
        "-redirects=-1",
        "-output=measure.bin",
    ]
    assert vegeta.encode_command(["warmup.bin", "measure.bin"], "records.jsonl") == [
        "vegeta",
        "encode",
        "-to=json",
        "-output=records.jsonl",
        "warmup.bin",
        "measure.bin",
    ]


def test_poisson_arrivals_are_refused() -> None:
    with pytest.raises(UsageError) as info:
        vegeta.attack_command(plan(arrival="poisson"), 0, "t", "o")
    assert info.value.what == "vegeta cannot send 'poisson' arrivals: it paces at a constant rate only"


def test_the_cell_script_is_valid_bash_running_every_phase_then_one_encode(tmp_path: Path) -> None:
    script = vegeta.cell_script(plan(), "/opt/kit/load/r1-cell.vegeta", "/usr/local/bin/vegeta")
    (tmp_path / "cell.sh").write_text(script)
    res = subprocess.run(
        ["bash", "-n", str(tmp_path / "cell.sh")], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    lines = script.splitlines()
    attacks = [i for i, line in enumerate(lines) if " attack " in line]
    encode = next(i for i, line in enumerate(lines) if " encode " in line)
    assert len(attacks) == 2 and attacks[0] < attacks[1] < encode
    assert "-name=warmup" in lines[attacks[0]] and "-name=measure" in lines[attacks[1]]
    assert "echo $$ > cell.pid" in lines and lines[-1] == 'if [ "$stopped" = 1 ]; then exit 130; fi'
    assert "warmup.bin measure.bin" in lines[encode]


def test_rfc3339_timestamps_become_epoch_nanoseconds() -> None:
    assert vegeta.epoch_ns("2026-11-28T16:00:00Z") == BASE_NS
    assert vegeta.epoch_ns("2026-11-28T16:00:00.000000001Z") == BASE_NS + 1
    assert vegeta.epoch_ns("2026-11-28T18:00:00.5+02:00") == BASE_NS + 500_000_000
    assert vegeta.epoch_ns("2026-11-28T10:00:00.160094020-06:00") == BASE_NS + 160_094_020
    with pytest.raises(ValueError):
        vegeta.epoch_ns("28/11/2026 16:00")


def test_documented_records_become_raw_rows() -> None:
    records = vegeta.read_records(DATA / "cell.jsonl")
    df = vegeta.rows_from_records(records, ["warmup", "measure"], **CELL)  # type: ignore[arg-type]
    assert df.schema == pl.Schema(RAW_SCHEMA) and df.height == 10
    assert df["seq"].to_list() == list(range(10))  # the measured attack's seq continues the warm-up's
    assert df["phase"].to_list() == ["warmup"] * 4 + ["measure"] * 6
    assert (df["intended_ns"] == df["sent_ns"]).all()  # vegeta knows only the actual start
    first_measured = df.row(4, named=True)
    assert first_measured["sent_ns"] == BASE_NS + 80_093_112  # written at +02:00
    assert first_measured["done_ns"] == BASE_NS + 80_093_112 + 2_200_100
    assert first_measured["latency_ns"] == first_measured["service_ns"] == 2_200_100
    failed = df.filter(pl.col("code") != 200)
    assert failed.select("seq", "code", "bytes_in").rows() == [(6, 500, 35), (7, 0, 0)]
    assert failed["error"].to_list()[0] == "500 Internal Server Error"
    assert failed["error"].to_list()[1].endswith("connect: connection refused")
    assert df.filter(pl.col("code") == 200)["error"].null_count() == 8
    assert set(df["engine"]) == {"vegeta"} and set(df["run_id"]) == {"r1"}


def test_a_record_of_an_unknown_attack_is_refused() -> None:
    records = vegeta.read_records(DATA / "cell.jsonl")
    with pytest.raises(KitError) as info:
        vegeta.rows_from_records(records, ["measure"], **CELL)  # type: ignore[arg-type]
    assert info.value.what == "vegeta record of an unknown attack 'warmup'"


@pytest.mark.parametrize(
    ("name", "why"),
    [("cut.jsonl", "the last record is cut off"), ("missing-field.jsonl", "line 1 lacks latency")],
)
def test_truncated_or_incomplete_records_are_refused(name: str, why: str) -> None:
    with pytest.raises(KitError) as info:
        vegeta.read_records(DATA / name)
    assert info.value.what == f"vegeta's records {DATA / name} are truncated or corrupt ({why})"


def test_missing_records_are_a_kit_error(tmp_path: Path) -> None:
    with pytest.raises(KitError) as info:
        vegeta.read_records(tmp_path / "records.jsonl")
    assert "are missing" in info.value.what


def test_a_host_without_vegeta_says_so_with_the_roles_reason(tmp_path: Path) -> None:
    """The probe the kit runs on the client host, run here for real: this machine has no vegeta."""
    res = subprocess.run(["bash", "-c", VEGETA_PROBE], capture_output=True, text=True, timeout=30)
    with pytest.raises(KitError) as info:
        locate_vegeta(res.stdout, "client")
    assert info.value.what.startswith("vegeta is not installed on client (")
    assert info.value.hint == (
        "The load_client role installs vegeta's release binary where the host can reach GitHub; "
        "rerun `kit up` on such a host, or bench with --engine kit"
    )
    fact = json.dumps({"installed": False, "reason": "its GitHub release is unreachable from this host"})
    with pytest.raises(KitError) as info:
        locate_vegeta(f"---\n{fact}\n", "client")
    assert info.value.what == (
        "vegeta is not installed on client "
        "(the load_client role skipped it: its GitHub release is unreachable from this host)"
    )
    assert locate_vegeta("/usr/local/bin/vegeta\n---\n", "client") == "/usr/local/bin/vegeta"
