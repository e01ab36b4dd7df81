"""A synthetic `study` run folder (manifest.json + raw/ + telemetry/) with known answers, written the
way the bench writes one: sweep probes (rep 0 at each probed rate), confirmations (reps 1-3 at the
found rate) and the common-rate repetitions (reps 10-12), all ordinary cells.

malware, small payload, p99 SLO 100 ms:
- torchserve: capacity 50 req/s, bracket [50, 60); a 4-CPU, 8 GiB host: $0.17/h (estimate) ->
  0.17 / (50 x 3600) x 1e6 = $0.9444 per 1M inferences (at 60 req/s: $0.7870). At the common rate
  its server uses 50 % of its 4 cores while serving 12 inferences/s: 0.5 x 4 / 12 x 1000 = 166.7
  CPU-seconds per 1,000 inferences; floor and footprint measured.
- mlserver: capacity 24 req/s, bracket [24, 26); a 1-CPU, 4 GiB host: $0.085/h (estimate) ->
  $0.9838 per 1M inferences. At the common rate: 10 % of 1 core at 12 inferences/s -> 8.33 CPU-s
  per 1,000 inferences, 512 MiB resident -> 0.5 / 12 x 1000 = 41.67 GiB-s per 1,000.
- mlflow: no rate met the SLO (lowest tried 2 req/s): excluded from the common rate.
- tfserving: skipped (it cannot run here): not measured.
Common rate: 12 req/s, 50 % of the lowest capacity, mlserver's 24 req/s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from kit.results import manifest, store
from kit.results.cells import CellKey
from kit.results.schema import RAW_SCHEMA
from kit.telemetry import frames

SLO = 100.0
T0 = 1_800_000_000 * 10**9
GIB = 1024**3
TFSERVING_WHY = "tensorflow_model_server unavailable on this host"

#: (framework, rate, rep, status, p50 ms, p99 ms, server CPU %, server RSS bytes)
Cell = tuple[str, float, int, str, float, float, float, int]
CELLS: list[Cell] = [
    # torchserve: sweep 10, 20, 40, 80 (overloaded), 60 (misses), 50; confirmed at 50; common at 12.
    *(("torchserve", r, 0, "ok", 3.0, 9.0, 20.0, GIB // 2) for r in (10.0, 20.0, 40.0, 50.0)),
    ("torchserve", 80.0, 0, "overloaded", 900.0, 10_000.0, 100.0, GIB // 2),
    ("torchserve", 60.0, 0, "ok", 40.0, 180.0, 95.0, GIB // 2),
    *(("torchserve", 50.0, k, "ok", 6.0, 60.0, 80.0, GIB // 2) for k in (1, 2, 3)),
    *(
        ("torchserve", 12.0, k, "ok", p50, 8.0, 50.0, GIB // 2)
        for k, p50 in ((10, 2.0), (11, 2.1), (12, 1.9))
    ),
    # mlserver: sweep 10, 20, 40 (misses), 30 (misses), 24, 26 (misses); confirmed at 24; common at 12.
    *(("mlserver", r, 0, "ok", 5.0, 20.0, 30.0, GIB // 2) for r in (10.0, 20.0, 24.0)),
    *(("mlserver", r, 0, "ok", 60.0, 300.0, 98.0, GIB // 2) for r in (40.0, 30.0, 26.0)),
    *(("mlserver", 24.0, k, "ok", 9.0, 70.0, 90.0, GIB // 2) for k in (1, 2, 3)),
    *(("mlserver", 12.0, k, "ok", p50, 20.0, 10.0, GIB // 2) for k, p50 in ((10, 5.0), (11, 5.2), (12, 4.8))),
    # mlflow: 10 overloaded, 5 and 2 miss.
    ("mlflow", 10.0, 0, "overloaded", 5000.0, 10_000.0, 100.0, GIB),
    *(("mlflow", r, 0, "ok", 150.0, 400.0, 90.0, GIB) for r in (5.0, 2.0)),
]
DURATION_S = 30.0


def write_study_run(run: Path, *, study: bool = True, only_rate: float | None = None) -> Path:
    """The run folder at `run`; without `study`, the same cells with no study record (today's report);
    with `only_rate`, only the cells at that rate (a run of one rate, no sweeps)."""
    man = manifest.new_manifest(
        run_id=run.name,
        kit_version="0.1.0",
        git_sha="5f3c2a1e9b8d" + "0" * 28,
        config={"scenarios": ["malware"], "bench": {"slo_p99_ms": SLO, "profile": "study"}},
        config_hash="cafe",
        provider="local",
        created_at="2026-12-01T09:00:00Z",
    )
    man["hosts"] = {
        "client": _host("client", 1, 2048),
        "srv-torchserve": _host("srv-torchserve", 4, 8192, "torchserve"),
        "srv-mlserver": _host("srv-mlserver", 1, 4096, "mlserver"),
        "srv-mlflow": _host("srv-mlflow", 1, 4096, "mlflow"),
        "srv-tfserving": _host("srv-tfserving", 1, 4096, "tfserving"),
    }
    man["payload_instances"] = {"malware": {"small": 1, "medium": 10, "large": 100}}
    man["pairs"] = [[fw, "malware"] for fw in ("tfserving", "torchserve", "mlserver", "mlflow")]
    manifest.update_cell(
        man,
        {
            **CellKey("tfserving", "malware", "small", 10.0, 0).as_dict(),
            "status": "skipped",
            "reason": TFSERVING_WHY,
        },
    )
    for seed, (fw, rate, rep, status, p50, p99, cpu, rss) in enumerate(CELLS):
        if only_rate is not None and rate != only_rate:
            continue
        key = CellKey(fw, "malware", "small", rate, rep)
        failed = 0.3 if status == "overloaded" else 0.0
        store.write_raw(_rows(key, p50, p99, failed, seed), key.raw_path(run))
        frames.write(_samples(key, cpu, rss), key.telemetry_path(run))
        reason = "30 % of the measured requests failed" if status == "overloaded" else ""
        manifest.update_cell(man, {**key.as_dict(), "status": status, "reason": reason})
    if only_rate is None:
        man["sweeps"] = SWEEPS
    if study:
        man["study"] = STUDY  # type: ignore[typeddict-unknown-key]
    manifest.save(run, man)
    return run


def _probe(rate: float, outcome: str, p99: float) -> dict[str, Any]:
    return {"rate": rate, "p99_ms": p99, "outcome": outcome, "why": "", "requests": int(rate * DURATION_S)}


SWEEPS = {
    "torchserve/malware/small": {
        "slo_p99_ms": SLO,
        "best_rate": 50.0,
        "lowest_missing_rate": 60.0,
        "stopped_because": "within precision",
        "probes": [
            *(_probe(r, "meets", 9) for r in (10, 20, 40)),
            *(_probe(r, "misses", p99) for r, p99 in ((80, 10_000), (60, 180))),
            _probe(50, "meets", 9),
        ],
    },
    "mlserver/malware/small": {
        "slo_p99_ms": SLO,
        "best_rate": 24.0,
        "lowest_missing_rate": 26.0,
        "stopped_because": "within precision",
        "probes": [
            _probe(r, "meets" if r in (10, 20, 24) else "misses", 0) for r in (10, 20, 40, 30, 24, 26)
        ],
    },
    "mlflow/malware/small": {
        "slo_p99_ms": SLO,
        "best_rate": None,
        "lowest_missing_rate": 2.0,
        "stopped_because": "no rate met the SLO",
        "probes": [_probe(r, "misses", 10_000) for r in (10, 5, 2)],
    },
}

STUDY: dict[str, Any] = {
    "common_fraction": 0.5,
    "pairs": {
        "torchserve/malware/small": {
            "slo_p99_ms": SLO,
            "lowest_rate_tried": 10.0,
            "capacity": {
                "rate": 50.0,
                "low": 50.0,
                "high": 60.0,
                "confirmed": True,
                "outcome": "found",
                "why": "",
            },
            "confirm": {"rate": 50.0, "reps": [1, 2, 3], "outcomes": ["meets"] * 3},
            "footprint": {
                "cold_start_s": [5.0, 6.0, 7.0],
                "rss_after_load_mb": 300.0,
                "rss_idle_mb": 280.0,
                "idle_cpu_pct": 0.5,
            },
            "floor": {
                "inprocess_p50_ms": 1.0,
                "inprocess_p99_ms": 1.5,
                "calls": 1000,
                "rtt_ms": 0.3,
                "rtt_samples": 100,
            },
        },
        "mlserver/malware/small": {
            "slo_p99_ms": SLO,
            "lowest_rate_tried": 10.0,
            "capacity": {
                "rate": 24.0,
                "low": 24.0,
                "high": 26.0,
                "confirmed": True,
                "outcome": "found",
                "why": "",
            },
            "confirm": {"rate": 24.0, "reps": [1, 2, 3], "outcomes": ["meets"] * 3},
        },
        "mlflow/malware/small": {
            "slo_p99_ms": SLO,
            "lowest_rate_tried": 2.0,
            "capacity": {
                "rate": None,
                "low": None,
                "high": 2.0,
                "confirmed": False,
                "outcome": "none",
                "why": "no rate met p99 <= 100 ms",
            },
        },
    },
    "common": {
        "malware/small": {
            "rate": 12.0,
            "fraction": 0.5,
            "lowest_capacity": 24.0,
            "of": "mlserver",
            "frameworks": ["torchserve", "mlserver"],
            "reps": [10, 11, 12],
            "excluded": {"mlflow": "no capacity at p99 <= 100 ms (lowest rate tried 2 req/s)"},
            "why": "",
        }
    },
}


def _host(name: str, cpus: int, memory_mb: int, framework: str | None = None) -> dict[str, Any]:
    host: dict[str, Any] = {
        "name": name,
        "cpus": cpus,
        "memory_mb": memory_mb,
        "gpu": False,
        "cores": str(cpus),
    }
    if framework:
        host |= {"framework": framework, "instance_type": f"lxd-{cpus}cpu-{memory_mb}mb"}
    return host


def _rows(key: CellKey, p50: float, p99: float, failed: float, seed: int) -> pl.DataFrame:
    """Warm-up and measured requests at the key's rate on a constant schedule, lognormal latencies
    with about the given p50 and p99 (ms); a share `failed` of them time out at 10 s."""
    rng = np.random.default_rng(seed)
    warm, n = int(key.rate * 2), int(key.rate * DURATION_S)
    sigma = np.log(p99 / p50) / 2.326
    lat_ms = p50 * np.exp(sigma * rng.standard_normal(warm + n))
    fail = rng.random(warm + n) < failed
    lat_ms = np.where(fail, 10_000.0, lat_ms)
    gap = int(1e9 / key.rate)
    intended = T0 + np.arange(warm + n, dtype=np.int64) * gap
    lag = 20_000
    latency = (lat_ms * 1e6).astype(np.int64) + lag
    return pl.DataFrame(
        {
            "run_id": "study",
            "framework": key.framework,
            "scenario": key.scenario,
            "payload": key.payload,
            "rate": key.rate,
            "rep": key.rep,
            "phase": ["warmup"] * warm + ["measure"] * n,
            "seq": np.arange(warm + n),
            "intended_ns": intended,
            "sent_ns": intended + lag,
            "done_ns": intended + latency,
            "latency_ns": latency,
            "service_ns": latency - lag,
            "code": np.where(fail, 0, 200),
            "bytes_out": 100,
            "bytes_in": 50,
            "error": np.where(fail, "timeout after 10s", ""),
            "engine": "kit",
        }
    ).select([pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()])


def _samples(key: CellKey, cpu_pct: float, rss: int) -> pl.DataFrame:
    """One sample a second of the measured phase, server and client."""
    seconds = int(DURATION_S)
    ts = [T0 + (2 + s) * 10**9 for s in range(seconds)]
    rows = [
        {"host": f"srv-{key.framework}", "role": "server", "cpu_pct": cpu_pct, "rss_bytes": rss} for _ in ts
    ] + [{"host": "client", "role": "client", "cpu_pct": 5.0, "rss_bytes": GIB // 4} for _ in ts]
    return pl.DataFrame(
        [
            {
                **r,
                "framework": key.framework,
                "phase": "measure",
                "ts_ns": t,
                "gpu_util_pct": None,
                "gpu_mem_bytes": None,
            }
            for r, t in zip(rows, ts + ts, strict=True)
        ],
        schema=frames.SCHEMA,
    )
