"""kit/report/build.py: the whole report from a copied run folder, bad input included."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError
from kit.report.build import ReportIncomplete, build_report
from kit.results import store
from kit.results.cells import CellKey

DATA = Path(__file__).parent.parent / "data"
GOLDEN = DATA / "golden"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """The committed run, copied where no host, workspace or config exists: a laptop."""
    dest = tmp_path / "laptop" / "results" / "golden"
    shutil.copytree(DATA / "raw_small", dest)
    return dest


@pytest.mark.parametrize(("name", "source"), [("raw_small", "raw_small"), ("smoke", "runs/smoke")])
def test_report_of_a_committed_run_matches_golden(tmp_path: Path, name: str, source: str) -> None:
    run = tmp_path / name
    shutil.copytree(DATA / source, run)
    report = build_report(run)
    assert (run / "report" / "report.md").read_text() == (GOLDEN / f"{name}_report.md").read_text()
    assert report.problems == [] and report.checked()["run_id"] == report.run_id


def test_the_files_of_a_report(run: Path) -> None:
    report = build_report(run)
    out = run / "report"
    assert [f.name for f in report.files] == [
        "report.md",
        "report.html",
        "cells.csv",
        "groups.csv",
        "latency_cdf_malware_small.png",
        "latency_box_malware.png",
    ]
    assert all(f.parent == out and f.stat().st_size > 0 for f in report.files)
    assert all(f.read_bytes().startswith(PNG) for f in report.files if f.suffix == ".png")
    text = (out / "report.md").read_text()
    assert text.startswith("# Run golden\n\nProvider local, kit 0.1.0 (git 5f3c2a1e9b8d), config hash ")
    assert "![latency cdf malware small](latency_cdf_malware_small.png)" in text


def test_the_html_is_self_contained(run: Path) -> None:
    report = build_report(run)
    page = (run / "report" / "report.html").read_text()
    # Nothing to fetch: no external style, script or image; every plot inline.
    assert not re.search(r"<(link|script)\b", page)
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    pngs = [f for f in report.files if f.suffix == ".png"]
    assert [base64.b64decode(s.split(",", 1)[1]) for s in sources] == [f.read_bytes() for f in pngs]
    assert "<td>mlserver</td>" in page and "Student&#x27;s t" not in page and "Student's t" in page


def test_the_report_says_which_ci_and_which_prices(run: Path) -> None:
    text = build_report(run).files[0].read_text()
    assert "95 % confidence interval from Student's t distribution" in text
    assert "Prices: AWS EC2 On-Demand list prices" in text and "table of 2025-06-01" in text
    assert (
        "This run's servers are local hosts, not cloud instances: every price below is an **estimate**"
        in text
    )
    assert "| USD per 1M requests | USD per 1M inferences |" in text


def test_a_run_benched_with_another_table_and_its_own_counts_says_so(run: Path) -> None:
    # The manifest names the table the bench saw and the instances its payloads carried.
    doc = json.loads((run / "manifest.json").read_text())
    doc["payload_instances"] = {"malware": {"small": 1, "medium": 10, "large": 100}}
    doc["price_table"] = {
        "file": "aws-ec2-2024-01-01.json",
        "as_of": "2024-01-01",
        "source": "s",
        "sha256": "0",
    }
    (run / "manifest.json").write_text(json.dumps(doc))
    report = build_report(run)
    text = report.files[0].read_text()
    assert (
        "The run was benched when the newest price table was aws-ec2-2024-01-01.json (of 2024-01-01); "
        "these figures use aws-ec2-2025-06-01.json, the newest now." in text
    )
    assert "predates recording them" not in text and "does not record the instances per request" not in text
    prices = report.to_dict()["prices"]
    assert prices["recorded_in_manifest"] == doc["price_table"]
    assert prices["estimate"]["method"].startswith(
        "c6i, AWS's compute-optimised family, on demand in us-east-1"
    )


def test_cells_that_did_not_end_ok_are_listed(run: Path) -> None:
    text = build_report(run).files[0].read_text()
    assert (
        "## Cells that did not end ok\n\n"
        # Its manifest (older than the overload rule) says ok; its rows say 2 % of its requests failed.
        "- mlserver/malware small @ 50 req/s rep 0: **overloaded**: 5/250 measured requests failed "
        "(2.0 %, over the 1 % a counted cell may lose)\n"
        "- mlserver/malware small @ 50 req/s rep 1: **invalid**: "
        "send-lag p99 1.87 ms > 1 ms: the client was the bottleneck\n"
        "- mlserver/malware medium @ 50 req/s rep 0: **failed**: "
        "host srv-mlserver did not answer on port 8090 (connection refused)\n"
        "- mlserver/malware large @ 50 req/s rep 0: **skipped**: an earlier cell on srv-mlserver failed\n"
    ) in text


def test_a_group_with_no_counted_repetition_is_still_drawn_and_marked(run: Path) -> None:
    # A busy 2-core controller can push every repetition past the send-lag gate; the report must
    # still show the latencies it observed, marked, rather than no picture at all.
    path = run / "manifest.json"
    man = json.loads(path.read_text())
    for cell in man["cells"]:
        if cell["payload"] == "small":
            cell["status"], cell["reason"] = (
                "invalid",
                "send-lag p99 3.46 ms > 1 ms: the client was the bottleneck",
            )
    path.write_text(json.dumps(man))
    report = build_report(run)
    names = [f.name for f in report.files]
    assert "latency_cdf_malware_small.png" in names and "latency_box_malware.png" in names
    text = report.files[0].read_text()
    assert "| mlserver | malware | small | 50 | 0/2 | - | - |" in text
    html = report.files[1].read_text()
    assert html.count("data:image/png;base64,") == 2


def test_a_run_whose_cells_all_failed_still_reports_why(run: Path) -> None:
    shutil.rmtree(run / "raw")
    report = build_report(run)
    assert [f.name for f in report.files] == ["report.md", "report.html", "cells.csv", "groups.csv"]
    text = report.files[0].read_text()
    assert "No measured rows in this run." in text
    assert "**failed**: host srv-mlserver did not answer" in text
    with pytest.raises(ReportIncomplete) as info:
        report.checked()
    assert info.value.what.startswith("run golden has no measured rows: 3 cell(s) did not end ok")


def test_a_truncated_file_leaves_the_rest_of_the_report(run: Path) -> None:
    target = CellKey("mlserver", "malware", "small", 50.0, 1).raw_path(run)
    target.write_bytes(target.read_bytes()[:300])
    report = build_report(run)
    text = report.files[0].read_text()
    assert "## Problems: what could not be read\n\n- raw file " in text
    assert "| mlserver | malware | small | 50 | 0 | kit | 250 |" in text
    with pytest.raises(KitError) as info:
        report.checked()
    assert info.value.what == (
        f"raw file {target} is unreadable (truncated or not parquet: parquet: File out of specification: "
        "The file must end with PAR1 or PARE) (and 1 more problem)"
    )
    assert info.value.hint == (
        f"The report ({run / 'report' / 'report.html'}) shows what could be read and lists every problem; "
        "restore the files from a copy or rerun those cells"
    )


def test_a_rebuilt_report_is_the_same_and_drops_stale_plots(run: Path) -> None:
    first = build_report(run)
    stale = run / "report" / "latency_cdf_image_large.png"
    stale.write_bytes(PNG)
    second = build_report(run)
    assert [f.read_bytes() for f in second.files] == [f.read_bytes() for f in first.files]
    assert not stale.exists()


def test_report_refuses_a_manifest_it_cannot_read(run: Path) -> None:
    doc = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**doc, "schema_version": 7}))
    with pytest.raises(KitError, match="has schema_version 7"):
        build_report(run)
    assert not (run / "report").exists()


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_report_and_results_never_import_the_stages_that_need_hosts() -> None:
    loaded = _modules_after(
        "import kit.report.build, kit.results.aggregate, kit.results.compare, kit.results.pricing"
    )
    forbidden = (
        "kit.provision",
        "kit.configure",
        "kit.load",
        "kit.bench",
        "kit.env",
        "kit.deploy",
        "kit.cli",
    )
    assert sorted(m for m in loaded if m.startswith(forbidden)) == []
    assert "matplotlib.pyplot" not in loaded  # no global backend or figure state touched
    assert "boto3" not in loaded  # only a price refresh needs it


def test_two_rates_and_telemetry_add_the_throughput_and_resource_plots(tmp_path: Path) -> None:
    from kit.results import manifest
    from kit.telemetry import frames

    run = tmp_path / "run"
    shutil.copytree(DATA / "runs" / "smoke", run)
    rows = pl.read_parquet(store.raw_files(run)[0])
    t0 = rows["intended_ns"].min()
    doubled = rows.with_columns(  # the same requests on a schedule twice as dense: 100 req/s
        pl.lit(100.0).alias("rate"),
        (t0 + (pl.col("intended_ns") - t0) // 2).alias("intended_ns"),
        (t0 + (pl.col("sent_ns") - t0) // 2).alias("sent_ns"),
    )
    store.write_raw(doubled, CellKey("mlserver", "malware", "small", 100.0, 0).raw_path(run))
    man = manifest.load(run)
    manifest.update_cell(man, {**man["cells"][0], "rate": 100.0})
    manifest.save(run, man)
    sampler = (DATA / "telemetry" / "mlserver-lxd.sampler.jsonl").read_text()
    samples = frames.read_samples(sampler)[1]
    window = [("measure", 0, 2**62)]
    frame = frames.frame(samples, host="srv-mlserver", framework="mlserver", role="server", windows=window)
    frames.write(frame, CellKey("mlserver", "malware", "small", 100.0, 0).telemetry_path(run))

    report = build_report(run)
    names = [f.name for f in report.files]
    assert names[-2:] == ["throughput_latency_malware.png", "resources.png"]
    assert report.data.groups["achieved_rate"].to_list() == pytest.approx([50.0, 100.0], rel=1e-3)
    text = report.files[0].read_text()
    usage = text[text.index("## Resource usage") :].split("\n\n")[1]
    assert usage.splitlines()[3].startswith("| mlserver | malware | small | 100 | 1/1 | 0.3 | 1977 |")


def test_an_overloaded_cell_is_shown_as_such_and_never_counted(tmp_path: Path) -> None:
    """A second rate at which a quarter of the requests timed out (as make demo's MLflow x image did,
    then `ok` and counted): every table names it overloaded, its group has no mean, and the
    throughput plot marks where the server broke."""
    from kit.results import manifest

    run = tmp_path / "run"
    shutil.copytree(DATA / "runs" / "smoke", run)
    rows = pl.read_parquet(store.raw_files(run)[0])
    t0 = rows["intended_ns"].min()
    timed_out = (pl.col("phase") == "measure") & (pl.col("seq") % 4 == 0)
    broke = rows.with_columns(
        pl.lit(100.0).alias("rate"),
        (t0 + (pl.col("intended_ns") - t0) // 2).alias("intended_ns"),
        (t0 + (pl.col("sent_ns") - t0) // 2).alias("sent_ns"),
        pl.when(timed_out).then(0).otherwise(pl.col("code")).cast(pl.Int32).alias("code"),
        pl.when(timed_out).then(10_000_000_000).otherwise(pl.col("latency_ns")).alias("latency_ns"),
        pl.when(timed_out)
        .then(10_000_000_000 - (pl.col("sent_ns") - pl.col("intended_ns")))
        .otherwise(pl.col("service_ns"))
        .alias("service_ns"),
        pl.when(timed_out).then(pl.lit("timeout after 10s")).otherwise(pl.col("error")).alias("error"),
    )
    store.write_raw(broke, CellKey("mlserver", "malware", "small", 100.0, 0).raw_path(run))
    man = manifest.load(run)
    reason = "63/250 measured requests failed (25.2 %, over the 1 % a counted cell may lose)"
    manifest.update_cell(man, {**man["cells"][0], "rate": 100.0, "status": "overloaded", "reason": reason})
    manifest.save(run, man)

    report = build_report(run)
    assert report.problems == []
    assert report.data.groups.select("rate", "reps_counted", "reps_overloaded").rows() == [
        (50.0, 1, 0),
        (100.0, 0, 1),
    ]
    assert report.data.groups.filter(pl.col("rate") == 100.0)["p50_ms"].to_list() == [None]
    assert "throughput_latency_malware.png" in [f.name for f in report.files]
    text = report.files[0].read_text()
    assert "| mlserver | malware | small | 100 | 0/1 (1 overloaded) | - |" in text
    assert "| 10000.00 | 2523.11 | overloaded |" in text  # the latency table: max, mean, status
    assert (
        "| 100.0 | 74.8 | 63 | 25.20 | 0.021 | 0.039 | 0.176 | 4.15 | 9999.96 | yes | overloaded | no |"
        in text
    )
    assert f"- mlserver/malware small @ 100 req/s rep 0: **overloaded**: {reason}" in text
    claims = {r["comparison"]: r["evidence"] for r in report.claims if r["scenario"] == "malware"}
    assert "mlserver: " not in claims["tfserving vs mlserver"]  # the 50 req/s repetition still counts


def test_resources_of_a_cell_that_was_not_counted_are_drawn_hollow(tmp_path: Path) -> None:
    # CI: the only cell was invalid (send lag on the shared 2-core machine) and its telemetry, sampled
    # and stored, never reached a plot. It is drawn now, marked as not counted.
    from kit.results import manifest
    from kit.telemetry import frames

    run = tmp_path / "run"
    shutil.copytree(DATA / "runs" / "smoke", run)
    man = manifest.load(run)
    reason = "send-lag p99 3.46 ms > 1 ms: the client was the bottleneck"
    manifest.update_cell(man, {**man["cells"][0], "status": "invalid", "reason": reason})
    manifest.save(run, man)
    sampler = (DATA / "telemetry" / "mlserver-lxd.sampler.jsonl").read_text()
    samples = frames.read_samples(sampler)[1]
    frame = frames.frame(
        samples, host="srv-mlserver", framework="mlserver", role="server", windows=[("measure", 0, 2**62)]
    )
    frames.write(frame, CellKey("mlserver", "malware", "small", 50.0, 0).telemetry_path(run))

    report = build_report(run)
    assert report.data.groups["reps_counted"].to_list() == [0]
    assert [f.name for f in report.files][-1] == "resources.png"
    assert (report.folder / "resources.png").read_bytes().startswith(PNG)


def test_a_shaped_link_is_named_and_a_default_one_is_not() -> None:
    from kit.report.build import shaped_links

    # `link` facts as two LXD hosts reported them (remote.FACTS_SCRIPT), one with tbf at 1 Mbit/s.
    hosts = {
        "client": {"link": "eth0 qdisc noqueue 0: root refcnt 2"},
        "srv-mlserver": {"link": "eth0 qdisc tbf 8001: root refcnt 3 rate 1Mbit burst 4Kb lat 400ms"},
        "srv-old": {"cores": "1"},  # a manifest from before the kit recorded links
    }
    assert shaped_links(hosts) == [
        "srv-mlserver: eth0 qdisc tbf 8001: root refcnt 3 rate 1Mbit burst 4Kb lat 400ms"
    ]


def test_a_run_measured_in_parts_says_so_and_names_changed_hosts(tmp_path: Path) -> None:
    hosts = json.loads((DATA / "runs" / "smoke" / "manifest.json").read_text())["hosts"]
    later = json.loads(json.dumps(hosts))
    later["srv-mlserver"]["cores"] = "2"
    text = smoke_report_with(
        tmp_path,
        parts=[
            {"started_at": "2026-11-29T09:00:00Z", "git_sha": "a" * 40, "hosts": hosts},
            {"started_at": "2026-11-30T09:00:00Z", "git_sha": "b" * 40, "hosts": later},
        ],
    )
    assert (
        "Measured in 2 parts (`kit bench all --resume`): part 0 from 2026-11-29T09:00:00Z (git aaaaaaaaaaaa); "
        "part 1 from 2026-11-30T09:00:00Z (git bbbbbbbbbbbb). Hosts' facts changed between parts: "
        "part 1: srv-mlserver cores 1 -> 2."
    ) in text


def test_a_restarted_framework_service_is_named_with_its_outcome(tmp_path: Path) -> None:
    why = "not run: srv-torchserve (10.78.0.21) did not serve torchserve/image again within 120 s of a failed cell"
    restarts = [
        {
            "framework": "torchserve",
            "host": "srv-torchserve",
            "after": "torchserve/image",
            "part": 0,
            "reason": why,
            "at": "2026-11-29T13:00:00Z",
            "seconds": 41.2,
            "serving": True,
            "outcome": "serving again",
        },
        {
            "framework": "mlserver",
            "host": "srv-mlserver",
            "after": "mlserver/malware",
            "part": 0,
            "reason": why,
            "at": "2026-11-29T14:00:00Z",
            "seconds": 10.3,
            "serving": False,
            "outcome": "restart failed: host srv-mlserver (10.78.0.23) did not answer over SSH",
        },
    ]
    restarts[0]["steps"] = [
        {
            "step": "systemctl restart torchserve",
            "seconds": 60.0,
            "outcome": "systemctl restart torchserve on srv-torchserve did not finish within 60s",
        },
        {"step": "systemctl kill --signal=SIGKILL torchserve", "seconds": 0.2, "outcome": "done"},
        {"step": "systemctl start torchserve", "seconds": 0.3, "outcome": "done"},
    ]
    text = smoke_report_with(tmp_path, restarts=restarts)
    assert (
        "Framework services the kit restarted between pairs because their server stopped serving, was "
        "left overloaded or failed, or its deploy failed (the cells after a restart ran on a fresh process): "
        "torchserve on srv-torchserve after torchserve/image at 2026-11-29T13:00:00Z: serving again "
        "(systemctl restart torchserve: systemctl restart torchserve on srv-torchserve did not finish within "
        "60s; then systemctl kill --signal=SIGKILL torchserve: done; then systemctl start torchserve: done); "
        "mlserver on srv-mlserver after mlserver/malware at "
        "2026-11-29T14:00:00Z: restart failed: host srv-mlserver (10.78.0.23) did not answer over SSH."
    ) in text


def smoke_report_with(tmp_path: Path, **keys: object) -> str:
    """The captured smoke run's report.md with `keys` laid over its manifest."""
    run = tmp_path / "smoke"
    shutil.copytree(DATA / "runs" / "smoke", run)
    man = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**man, **keys}))
    build_report(run)
    return (run / "report" / "report.md").read_text()
