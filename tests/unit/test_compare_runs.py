"""kit/results/compare.py: like compared with like, and changes inside the intervals called noise.

Runs of three repetitions are made from the captured smoke cell's rows with the kit's own writer,
each repetition's latencies scaled a little (as repetitions differ), and a run "B" scaled as a whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError
from kit.results import compare, manifest, store
from kit.results.cells import CellKey

SMOKE = Path(__file__).parent.parent / "data" / "runs" / "smoke"
JITTER = (1.0, 1.02, 0.98)


def make_run(root: Path, name: str, scale: float = 1.0, version: str = "1.7.1") -> Path:
    rows = pl.read_parquet(store.raw_files(SMOKE)[0])
    man = manifest.load(SMOKE)
    man["run_id"], man["cells"] = name, []
    man["frameworks"]["mlserver"]["version"] = version
    run = root / name
    for rep, jitter in enumerate(JITTER):
        scaled = rows.with_columns(
            pl.lit(rep, pl.Int32).alias("rep"),
            (pl.col("latency_ns") * scale * jitter).cast(pl.Int64).alias("latency_ns"),
        )
        store.write_raw(scaled, CellKey("mlserver", "malware", "small", 50.0, rep).raw_path(run))
        key = {"framework": "mlserver", "scenario": "malware", "payload": "small", "rate": 50.0, "rep": rep}
        manifest.update_cell(man, {**key, "status": "ok", "reason": "", "summary": {}})  # type: ignore[typeddict-item]
    manifest.save(run, man)
    return run


def verdicts(result: compare.Comparison) -> dict[str, str]:
    return {r["figure"]: r["verdict"] for r in result.rows}


def test_a_run_against_itself_is_within_noise(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a")
    result = compare.compare_runs(a, a)
    assert verdicts(result)["p50_ms"] == verdicts(result)["p99_ms"] == "within noise"
    assert result.refused == result.only_a == result.only_b == result.problems == []
    assert all(r["change_pct"] in (0.0, None) for r in result.rows)


def test_a_slower_run_is_worse_and_a_faster_one_better(tmp_path: Path) -> None:
    a, slow, fast = make_run(tmp_path, "a"), make_run(tmp_path, "slow", 1.5), make_run(tmp_path, "fast", 0.5)
    worse = compare.compare_runs(a, slow)
    p50 = next(r for r in worse.rows if r["figure"] == "p50_ms")
    assert p50["verdict"] == "worse" and p50["change_pct"] == pytest.approx(50.0, abs=0.1)
    assert p50["b_lo"] > p50["a_hi"]
    assert verdicts(compare.compare_runs(a, fast))["p50_ms"] == "better"
    # The rate did not change: equal achieved rates are within noise, not a win.
    assert verdicts(worse)["achieved_rate"] == "within noise"


def test_a_change_smaller_than_the_repetitions_differ_is_noise(tmp_path: Path) -> None:
    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b", 1.005)  # 0.5 %; reps differ by 2 %
    assert verdicts(compare.compare_runs(a, b))["p50_ms"] == "within noise"


def test_cells_whose_configuration_differs_are_refused_with_the_keys(tmp_path: Path) -> None:
    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b", version="1.8.0")
    with pytest.raises(KitError) as info:
        compare.compare_runs(a, b)
    assert info.value.what == (
        'runs a and b share no cell with the same configuration (mlserver/malware differs in framework.version: "1.7.1" -> "1.8.0")'
    )
    assert info.value.hint == (
        "Compare runs made with the same framework settings, model, bench settings and server hosts"
    )


def test_only_the_differing_cells_are_refused(tmp_path: Path) -> None:
    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b")
    # b also benched torchserve on another host with the same rows; a did not: only in b.
    rows = pl.read_parquet(store.raw_files(b)[0]).with_columns(pl.lit("torchserve").alias("framework"))
    store.write_raw(rows, CellKey("torchserve", "malware", "small", 50.0, 0).raw_path(b))
    result = compare.compare_runs(a, b)
    assert result.only_b == ["torchserve/malware small @ 50 req/s"] and result.only_a == []
    # a's bench settings changed: every shared cell is refused, naming the key.
    doc = json.loads((a / "manifest.json").read_text())
    doc["config"]["bench"]["timeout_s"] = 2.0
    (a / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(KitError) as info:
        compare.compare_runs(a, b)
    assert info.value.what.endswith("differs in bench.timeout_s: 2.0 -> 10.0)")


def test_runs_without_shared_cells_or_a_manifest_are_refused(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a")
    other = tmp_path / "other"
    rows = pl.read_parquet(store.raw_files(a)[0]).with_columns(pl.lit("large").alias("payload"))
    store.write_raw(rows, CellKey("mlserver", "malware", "large", 50.0, 0).raw_path(other))
    shutil.copy(a / "manifest.json", other / "manifest.json")
    with pytest.raises(KitError) as info:
        compare.compare_runs(a, other)
    assert info.value.what == "runs a and a share no (framework, scenario, payload, rate)"
    (other / "manifest.json").unlink()
    with pytest.raises(KitError) as info:
        compare.compare_runs(a, other)
    assert info.value.what == "run other has no readable manifest: its cells' configuration cannot be checked"


def test_config_differences_name_every_leaf() -> None:
    a = {"framework": {"version": "1", "settings": {"workers": 1}}, "seed": 42}
    b = {"framework": {"version": "1", "settings": {"workers": 2, "threads": 4}}, "seed": 42}
    assert compare.differences(a, b) == [
        "framework.settings.threads: null -> 4",
        "framework.settings.workers: 1 -> 2",
    ]
    assert compare.config_hash(a) != compare.config_hash(b)
    assert compare.config_hash(a) == compare.config_hash(json.loads(json.dumps(a)))
