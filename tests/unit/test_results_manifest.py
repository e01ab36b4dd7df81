import json
import shutil
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.results import manifest
from kit.results.schema import SCHEMA_VERSION

RAW_SMALL = Path(__file__).parent.parent / "data" / "raw_small"
CELL = {"framework": "mlserver", "scenario": "malware", "payload": "small", "rate": 50.0, "rep": 0}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "golden"
    shutil.copytree(RAW_SMALL, dest)
    return dest


def _new() -> manifest.Manifest:
    return manifest.new_manifest(
        run_id="r1",
        kit_version="0.1.0",
        git_sha="abc",
        config={"seed": 42},
        config_hash="h",
        provider="local",
        created_at="2027-01-15T09:30:00Z",
    )


def test_a_new_manifest_has_every_field_of_the_contract() -> None:
    man = _new()
    assert set(man) == set(manifest.Manifest.__required_keys__)
    assert man["schema_version"] == SCHEMA_VERSION
    assert man["cells"] == [] and man["hosts"] == {} and man["seeds"] == {}


def test_save_then_load_round_trips_and_leaves_no_temporary(tmp_path: Path) -> None:
    man = _new()
    man["hosts"] = {"client": {"cores": 1}}
    manifest.update_cell(man, {**CELL, "status": "ok", "reason": "", "summary": {"p50_ms": 4.2}})
    manifest.save(tmp_path / "r1", man)
    assert manifest.load(tmp_path / "r1") == man
    assert [p.name for p in (tmp_path / "r1").iterdir()] == ["manifest.json"]


def test_update_cell_replaces_the_same_cell_even_when_json_made_the_rate_an_int() -> None:
    man = _new()
    manifest.update_cell(man, {**CELL, "status": "partial", "reason": "interrupted", "summary": {}})
    manifest.update_cell(man, {**CELL, "rep": 1, "status": "ok", "reason": "", "summary": {}})
    manifest.update_cell(man, {**CELL, "rate": 50, "status": "failed", "reason": "boom", "summary": {}})
    assert [(c["rep"], c["status"]) for c in man["cells"]] == [(1, "ok"), (0, "failed")]


def test_update_cell_fills_reason_and_summary_and_checks_the_status() -> None:
    man = _new()
    manifest.update_cell(man, {**CELL, "status": "skipped"})
    assert man["cells"][0]["reason"] == "" and man["cells"][0]["summary"] == {}
    with pytest.raises(ValueError, match="cell status must be one of"):
        manifest.update_cell(man, {**CELL, "status": "great", "reason": "", "summary": {}})
    with pytest.raises(ValueError, match=r"a cell needs \['rep'\]"):
        manifest.update_cell(man, {k: v for k, v in CELL.items() if k != "rep"} | {"status": "ok"})


def test_the_committed_manifest_loads(run: Path) -> None:
    man = manifest.load(run)
    assert man["run_id"] == "golden"
    assert [(c["payload"], c["rep"], c["status"]) for c in man["cells"]] == [
        ("small", 0, "ok"),
        ("small", 1, "invalid"),
        ("medium", 0, "failed"),
        ("large", 0, "skipped"),
    ]


def test_an_unknown_schema_version_is_refused_with_the_exact_message(run: Path) -> None:
    doc = json.loads((run / "manifest.json").read_text())
    doc["schema_version"] = 2
    doc["kit_version"] = "0.4.0"
    (run / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(KitError) as info:
        manifest.load(run, kit_version="0.1.0")
    assert info.value.what == f"{run}/manifest.json has schema_version 2; this kit (version 0.1.0) reads 1"
    assert info.value.what.endswith(
        "results/golden/manifest.json has schema_version 2; this kit (version 0.1.0) reads 1"
    )
    assert info.value.hint == "Use the kit version that wrote it (0.4.0, per the file)"


def test_a_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KitError) as info:
        manifest.load(tmp_path / "nope")
    assert info.value.what == f"{tmp_path}/nope/manifest.json is missing"
    assert (
        info.value.hint == "Is this a results folder? Each run holds a manifest.json beside its raw/ folder"
    )


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("{ not json", "Expecting property name enclosed in double quotes at line 1"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"schema_version": 1, "run_id": "x"}', "fields ['cells', 'config', 'config_hash',"),
    ],
)
def test_a_corrupt_manifest_is_a_clear_error(run: Path, text: str, detail: str) -> None:
    (run / "manifest.json").write_text(text)
    with pytest.raises(KitError) as info:
        manifest.load(run)
    assert info.value.what.startswith(f"{run}/manifest.json is corrupt ({detail}")
    assert info.value.hint == "Restore it from a copy; the raw rows beside it are kept and untouched"


def test_the_instances_per_request_of_every_payload_are_recorded(tmp_path: Path) -> None:
    from kit import scenarios

    man = _new()
    for scenario in ("malware", "image"):
        manifest.record_payload_instances(man, scenario, scenarios.instances_per_payload(scenario))
    manifest.save(tmp_path, man)
    assert manifest.load(tmp_path)["payload_instances"] == {
        "malware": {"large": 100, "medium": 10, "small": 1},
        "image": {"large": 16, "medium": 4, "small": 1},
    }


@pytest.mark.parametrize(
    ("counts", "named"),
    [
        ({"small": 1, "medium": 0}, "medium"),
        ({"small": None}, "small"),
        ({"large": True}, "large"),
        ({}, "(none given)"),
    ],
)
def test_an_unusable_instance_count_is_refused(counts: dict[str, object], named: str) -> None:
    man = _new()
    with pytest.raises(KitError) as info:
        manifest.record_payload_instances(man, "crypto", counts)
    assert info.value.what == f"scenario crypto: no usable instance count for payload {named}"
    assert "payload_instances" not in man
