"""`kit report` through the CLI: a report, its --json, and bad input as one Error and one Hint line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from kit import __version__

#: The Error:/Hint: lines of a result (the `lines` fixture of conftest.py).
ErrorLines = Callable[[Result], list[str]]


@pytest.fixture
def golden(home: Path, data_dir: Path) -> Path:
    run = home / "results" / "golden"
    shutil.copytree(data_dir / "raw_small", run)
    return run


def test_report_prints_the_groups_and_where_it_wrote(kit, golden: Path) -> None:  # type: ignore[no-untyped-def]
    result = kit("report", "golden")
    assert result.exit_code == 0, result.stderr
    assert "run golden: mean [95 % CI] over counted repetitions" in result.stdout
    assert "malware: TF Serving beats every other framework: not measured" in result.stdout
    assert "prices: AWS EC2 On-Demand list prices" in result.stdout
    # raw_small has no rate whose every repetition counted: no cost, and the line says why.
    assert "cost mlserver/malware small: no price (no sustainable rate;" in " ".join(result.stdout.split())
    assert f"wrote {golden / 'report'}/report.md and report.html (6 files)" in result.stdout.replace("\n", "")
    assert (golden / "report" / "report.html").is_file()


def test_report_json(kit, golden: Path) -> None:  # type: ignore[no-untyped-def]
    result = kit("report", "golden", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["run_id"] == "golden" and doc["problems"] == []
    assert doc["prices"]["as_of"] == "2025-06-01"
    assert [(c["rep"], c["engine"], c["status"]) for c in doc["cells"]] == [
        (0, "kit", "overloaded"),
        (1, "kit", "invalid"),
    ]
    group = doc["groups"][0]
    assert (group["reps_counted"], group["reps_overloaded"], group["p50_ms"]) == (0, 1, None)
    cost = doc["cost"][0]
    # A local server is priced as an estimate, named so in --json too; no sustainable rate here.
    assert (cost["price_kind"], cost["usd_per_hour"], cost["instances_per_request"]) == ("estimate", 0.085, 1)
    assert cost["price_basis"].startswith("estimate: 1 vCPU, 4 GiB priced as 2 c6i vCPU-hours an hour")
    assert (cost["usd_per_million_requests"], cost["usd_per_million_inferences"]) == (None, None)
    assert cost["note"].startswith(
        "no sustainable rate; 1 instance(s) per request from today's scenario registry"
    )
    assert doc["prices"]["estimate"]["family"] == "c6i"
    assert {c["verdict"] for c in doc["claims"]} == {"not measured"}


def test_report_of_an_empty_run_folder(kit, home: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    (home / "results" / "empty").mkdir(parents=True)
    result = kit("report", "empty")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: {home / 'results' / 'empty'} has neither a readable manifest nor a readable raw file",
        "Hint: Check the path: a run folder holds manifest.json and raw/<framework>/...",
    ]


def test_report_of_a_run_whose_cells_all_failed(kit, golden: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(golden / "raw")
    result = kit("report", "golden")
    assert result.exit_code == 1
    assert lines(result) == [
        "Error: run golden has no measured rows: 3 cell(s) did not end ok (first: mlserver/malware small: "
        "invalid, send-lag p99 1.87 ms > 1 ms: the client was the bottleneck) (and 2 more problems)",
        f"Hint: The report ({golden / 'report' / 'report.html'}) shows what could be read and lists every "
        "problem; restore the files from a copy or rerun those cells",
    ]
    assert "**failed**: host srv-mlserver did not answer" in (golden / "report" / "report.md").read_text()


def test_report_with_a_truncated_raw_file(kit, golden: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    target = golden / "raw" / "mlserver" / "malware" / "small" / "50" / "rep0.parquet"
    target.write_bytes(target.read_bytes()[:100])
    result = kit("report", "golden")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: raw file {target} is unreadable (truncated or not parquet: parquet: File out of "
        "specification: The file must end with PAR1 or PARE) (and 1 more problem)",
        f"Hint: The report ({golden / 'report' / 'report.html'}) shows what could be read and lists every "
        "problem; restore the files from a copy or rerun those cells",
    ]
    assert (
        "| mlserver | malware | small | 50 | 1 | kit | 250 |" in (golden / "report" / "report.md").read_text()
    )


def test_report_with_a_missing_manifest(kit, golden: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    (golden / "manifest.json").unlink()
    result = kit("report", str(golden))
    assert result.exit_code == 1
    assert lines(result)[0] == (
        f"Error: {golden / 'manifest.json'} is missing: no run facts, cell statuses or cost; "
        "figures come from the raw rows alone"
    )
    assert "No readable manifest" in (golden / "report" / "report.md").read_text()


def test_report_of_an_unknown_schema_version(kit, golden: Path, lines: ErrorLines) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads((golden / "manifest.json").read_text())
    (golden / "manifest.json").write_text(json.dumps({**doc, "schema_version": 9, "kit_version": "2.3.0"}))
    result = kit("report", "golden")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: {golden / 'manifest.json'} has schema_version 9; this kit (version {__version__}) reads 1",
        "Hint: Use the kit version that wrote it (2.3.0, per the file)",
    ]


def test_refresh_prices_without_credentials_keeps_the_stored_table(  # type: ignore[no-untyped-def]
    kit, golden: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = kit("report", "golden", "--refresh-prices")
    assert result.exit_code == 0
    assert "note: prices not refreshed: no AWS credentials (the newest stored table is used)" in result.stdout


def test_report_prints_the_cost_per_inference_and_per_request(kit, home: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(data_dir / "runs" / "smoke", home / "results" / "smoke")
    result = kit("report", "smoke")
    assert result.exit_code == 0, result.stderr
    line = " ".join(result.stdout.split())
    assert (
        "cost mlserver/malware small: $0.4722 per 1M inferences, $0.4722 per 1M requests (estimate) at 50 req/s "
        "(highest rate measured (50 req/s target; no sweep: a lower bound))"
    ) in line
