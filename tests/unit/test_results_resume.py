"""kit/results/resume.py: which cells a resume measures, the parts it records, the files it moves."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from kit.errors import KitError, UsageError
from kit.results import manifest, resume
from kit.results.cells import CellKey

DATA = Path(__file__).parent.parent / "data"
SMOKE = json.loads((DATA / "runs" / "smoke" / "manifest.json").read_text())
FACTS = SMOKE["hosts"]


def run_with(*statuses: str) -> manifest.Manifest:
    man = copy.deepcopy(SMOKE)
    (cell,) = man["cells"]
    man["cells"] = [{**cell, "rep": k, "status": s} for k, s in enumerate(statuses)]
    return man


def test_only_a_final_outcome_is_done_a_partial_cell_is_measured_again() -> None:
    man = run_with("ok", "partial", "failed", "invalid", "skipped")
    done = resume.done_cells(man)
    assert sorted(k.rep for k in done) == [0, 2, 3, 4]
    assert CellKey("mlserver", "malware", "small", 50, 0) in done  # 50 and 50.0 name the same cell


def test_a_run_resumes_only_under_the_configuration_it_started_with(tmp_path: Path) -> None:
    man = run_with("ok")
    resume.check_resumable(man, tmp_path / "r1", SMOKE["config_hash"])
    with pytest.raises(UsageError) as changed:
        resume.check_resumable(man, tmp_path / "r1", "0000000000000000")
    assert changed.value.what == (
        f"the configuration changed since r1 started (config hash 0000000000000000, the run's "
        f"{SMOKE['config_hash']})"
    )
    man["config"]["bench"]["sweep"] = True  # a sweep replays the probes it holds (kit/bench/sweep.py)
    resume.check_resumable(man, tmp_path / "r1", SMOKE["config_hash"])
    del man["config"]["bench"]
    with pytest.raises(KitError, match="does not record its bench settings"):
        resume.check_resumable(man, tmp_path / "r1", SMOKE["config_hash"])


def test_parts_are_numbered_and_a_changed_host_is_named() -> None:
    man = run_with("ok", "partial")
    assert resume.start_part(man, "a" * 40, "0.1.0", FACTS) == 0
    assert resume.changed_facts(man) == []  # one part: nothing to compare
    assert resume.start_part(man, "b" * 40, "0.1.0", copy.deepcopy(FACTS)) == 1
    assert resume.changed_facts(man) == []
    assert man["parts"][1]["cells_final_before"] == 1
    later = copy.deepcopy(FACTS)
    later["srv-mlserver"]["kernel"] = "6.1.0-99-amd64"
    resume.start_part(man, "c" * 40, "0.1.0", later)
    assert resume.changed_facts(man) == [
        f"part 2: srv-mlserver kernel {FACTS['srv-mlserver']['kernel']} -> 6.1.0-99-amd64"
    ]


def test_a_cut_off_cells_files_move_aside_untouched(tmp_path: Path) -> None:
    raw = tmp_path / "raw/mlserver/malware/small/50/rep0.parquet"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"PAR1 rows so far")
    moved = resume.supersede(tmp_path, [raw, tmp_path / "telemetry/none.parquet"], part=1)
    assert moved == [tmp_path / "superseded/part1/raw/mlserver/malware/small/50/rep0.parquet"]
    assert moved[0].read_bytes() == b"PAR1 rows so far" and not raw.exists()


def test_a_run_from_before_parts_gets_its_first_part_from_its_manifest() -> None:
    man = run_with("ok", "partial")
    assert "parts" not in man
    resume.first_part(man)
    assert man["parts"] == [
        {
            "started_at": SMOKE["created_at"],
            "git_sha": SMOKE["git_sha"],
            "kit_version": SMOKE["kit_version"],
            "cells_final_before": 0,
            "hosts": FACTS,
        }
    ]
    assert resume.start_part(man, "b" * 40, "0.1.0", FACTS) == 1  # the resume is part 1
    resume.first_part(man)
    assert len(man["parts"]) == 2
