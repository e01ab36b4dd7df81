"""`kit compare RUN_A RUN_B`: what changed from A to B, cell by cell, and whether it is more than noise.

Only like is compared with like. Each (framework, scenario, payload) gets a configuration hash of
what decides its figures besides the rate (`cell_config`): the framework's version and settings, the
model's files, the measurement settings (durations, arrival, timeout, keep-alive, engine, processes,
scheduling, telemetry), the seed, and the server host's shape (instance type, CPUs, memory, GPU) and
provider. Cells whose hashes differ are refused, with the fields that differ; they are never
compared. A run without a manifest cannot be checked, and is refused whole.

For each shared (framework, scenario, payload, rate) and figure, B against A: `better` or `worse`
when the two 95 % intervals (kit.results.stats) do not overlap (lower is better for latency, errors,
CPU and memory; higher for rates), `within noise` when they overlap, `no interval` when either side
has fewer than two counted repetitions, `not measured` when either has none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kit.errors import KitError
from kit.results import analysis
from kit.results.aggregate import GROUP
from kit.results.analysis import RunData
from kit.results.cells import rate_label
from kit.results.cost import server_host
from kit.results.stats import separation

#: Bench settings that change what a cell measures (rates, payload lists, repetitions and sweep bounds
#: only choose which cells exist; cooldown is the pause between them).
MEASUREMENT_KEYS = (
    "duration_s",
    "warmup_s",
    "arrival",
    "timeout_s",
    "keepalive",
    "engine",
    "processes",
    "realtime",
    "telemetry",
    "telemetry_interval_s",
)
HOST_KEYS = ("instance_type", "cpus", "memory_mb", "gpu")

#: (figure, lower is better)
FIGURES: list[tuple[str, bool]] = [
    ("p50_ms", True),
    ("p99_ms", True),
    ("mean_ms", True),
    ("achieved_rate", False),
    ("error_rate", True),
    ("server_cpu_mean_pct", True),
    ("server_rss_max_mb", True),
]


@dataclass
class Comparison:
    run_a: str
    run_b: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # framework, scenario, payload, differences
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # damage in either run, prefixed with its id

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "rows": self.rows,
            "refused": self.refused,
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
            "problems": self.problems,
        }


def cell_config(manifest: Mapping[str, Any], framework: str, scenario: str) -> dict[str, Any]:
    config = manifest.get("config") or {}
    bench = config.get("bench") or {}
    model = (manifest.get("models") or {}).get(scenario) or {}
    fw = (manifest.get("frameworks") or {}).get(framework) or {}
    host = server_host(manifest, framework)
    return {
        "framework": {"version": fw.get("version"), "settings": fw.get("settings")},
        "model": model.get("digest") or model.get("files") or model,
        "bench": {k: bench.get(k) for k in MEASUREMENT_KEYS},
        "seed": config.get("seed"),
        "server": {k: host.get(k) for k in HOST_KEYS},
        "provider": manifest.get("provider"),
    }


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """`path: A -> B` for every leaf that differs."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            out += differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if a == b else [f"{prefix}: {json.dumps(a, default=str)} -> {json.dumps(b, default=str)}"]


def compare_runs(run_a: Path, run_b: Path) -> Comparison:
    """Read both run folders (kit.results.analysis) and compare them; their damage is passed on."""
    a, b = analysis.analyse(run_a), analysis.analyse(run_b)
    out = compare(a, b)
    out.problems = [f"{run.run_id}: {p}" for run in (a, b) for p in run.problems]
    return out


def compare(a: RunData, b: RunData) -> Comparison:
    for run in (a, b):
        if run.manifest is None:
            raise KitError(
                f"run {run.run_id} has no readable manifest: its cells' configuration cannot be checked",
                "Compare only runs with their manifest.json (restore it from a copy)",
            )
    assert a.manifest is not None and b.manifest is not None
    out = Comparison(a.run_id, b.run_id)
    keys_a = {tuple(r[c] for c in GROUP) for r in a.groups.iter_rows(named=True)}
    keys_b = {tuple(r[c] for c in GROUP) for r in b.groups.iter_rows(named=True)}
    out.only_a = [_name(k) for k in sorted(keys_a - keys_b)]
    out.only_b = [_name(k) for k in sorted(keys_b - keys_a)]
    refused: dict[tuple[str, str, str], list[str]] = {}
    shared = sorted(keys_a & keys_b)
    for fw, sc, payload, _ in shared:
        if (fw, sc, payload) in refused:
            continue
        ca, cb = cell_config(a.manifest, fw, sc), cell_config(b.manifest, fw, sc)
        if config_hash(ca) != config_hash(cb):
            refused[(fw, sc, payload)] = differences(ca, cb)
    out.refused = [
        {"framework": fw, "scenario": sc, "payload": p, "differences": diff}
        for (fw, sc, p), diff in refused.items()
    ]
    rows_a = {tuple(r[c] for c in GROUP): r for r in a.groups.iter_rows(named=True)}
    rows_b = {tuple(r[c] for c in GROUP): r for r in b.groups.iter_rows(named=True)}
    for key in shared:
        if key[:3] in refused:
            continue
        for figure, lower_better in FIGURES:
            row = _figure(rows_a[key], rows_b[key], figure, lower_better)
            if row is not None:
                out.rows.append({**dict(zip(GROUP, key, strict=True)), **row})
    if shared and not out.rows and out.refused:
        first = out.refused[0]
        diff = first["differences"]
        shown = "; ".join(diff[:3]) + (f" and {len(diff) - 3} more" if len(diff) > 3 else "")
        raise KitError(
            f"runs {a.run_id} and {b.run_id} share no cell with the same configuration "
            f"({first['framework']}/{first['scenario']} differs in {shown})",
            "Compare runs made with the same framework settings, model, bench settings and server hosts",
        )
    if not shared:
        raise KitError(
            f"runs {a.run_id} and {b.run_id} share no (framework, scenario, payload, rate)",
            "Compare runs that benched the same cells",
        )
    return out


def _figure(
    ra: Mapping[str, Any], rb: Mapping[str, Any], figure: str, lower_better: bool
) -> dict[str, Any] | None:
    if figure not in ra or figure not in rb or (ra[figure] is None and rb[figure] is None):
        return None
    ma, mb = ra[figure], rb[figure]
    if not ra["reps_counted"] or not rb["reps_counted"] or ma is None or mb is None:
        verdict = "not measured"
    else:
        where = separation(rb[f"{figure}_lo"], rb[f"{figure}_hi"], ra[f"{figure}_lo"], ra[f"{figure}_hi"])
        verdict = {
            "overlap": "within noise",
            "unknown": "no interval",
            "below": "better" if lower_better else "worse",
            "above": "worse" if lower_better else "better",
        }[where]
    change = (mb - ma) / ma * 100 if ma and mb is not None else None
    return {
        "figure": figure,
        "a": ma,
        "a_lo": ra[f"{figure}_lo"],
        "a_hi": ra[f"{figure}_hi"],
        "b": mb,
        "b_lo": rb[f"{figure}_lo"],
        "b_hi": rb[f"{figure}_hi"],
        "change_pct": change,
        "verdict": verdict,
    }


def _name(key: tuple[Any, ...]) -> str:
    fw, sc, payload, rate = key
    return f"{fw}/{sc} {payload} @ {rate_label(rate)} req/s"


def as_frame(comparison: Comparison) -> pl.DataFrame:
    return pl.DataFrame(comparison.rows)
