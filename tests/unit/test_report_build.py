import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.report.build import build_report

DATA = Path(__file__).parent.parent / "data"
GOLDEN = DATA / "golden"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """The committed run, copied where no host, workspace or config exists: a laptop."""
    dest = tmp_path / "laptop" / "results" / "golden"
    shutil.copytree(DATA / "raw_small", dest)
    return dest


def test_report_from_a_copied_run_folder(run: Path) -> None:
    files = build_report(run)
    assert files == [run / "report" / "report.md", run / "report" / "latency.png"]
    assert files[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = files[0].read_text()
    assert text.startswith("# Run golden\n\nProvider local, kit 0.1.0 (git 5f3c2a1e9b8d), config hash ")
    table = text[text.index("| framework") :].split("\n\n")[0] + "\n"
    assert table == (GOLDEN / "raw_small_table.md").read_text()


def test_report_lists_each_cell_from_the_manifest_that_did_not_end_ok(run: Path) -> None:
    text = build_report(run)[0].read_text()
    assert text.endswith(
        "## Cells that did not end ok\n\n"
        "- mlserver/malware small @ 50 req/s rep 1: **invalid**: "
        "send-lag p99 1.87 ms > 1 ms: the client was the bottleneck\n"
        "- mlserver/malware medium @ 50 req/s rep 0: **failed**: "
        "host srv-mlserver did not answer on port 8090 (connection refused)\n"
        "- mlserver/malware large @ 50 req/s rep 0: **skipped**: an earlier cell on srv-mlserver failed\n"
    )


def test_a_run_without_rows_still_reports_why(run: Path) -> None:
    shutil.rmtree(run / "raw")
    files = build_report(run)
    assert files == [run / "report" / "report.md"]
    text = files[0].read_text()
    assert "No measured rows in this run.\n" in text
    assert "**failed**: host srv-mlserver did not answer" in text


def test_report_can_be_rebuilt(run: Path) -> None:
    first = build_report(run)[0].read_text()
    assert build_report(run)[0].read_text() == first


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
        "import kit.report.build, kit.results.aggregate, kit.results.manifest, kit.results.store"
    )
    forbidden = ("kit.provision", "kit.configure", "kit.load", "kit.stages", "kit.cli")
    assert sorted(m for m in loaded if m.startswith(forbidden)) == []
    assert "matplotlib.pyplot" not in loaded  # no global backend or figure state touched
