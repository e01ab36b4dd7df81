"""Per scenario and export: parameters, size on disk, in-process inference time per payload size,
and build time. Run: .venv/bin/python benchmarks/models.py [SCENARIO ...]

Builds go to a scratch workspace (cached there between runs of this script); inference is timed
in this process with each framework's own loader (the same code `kit parity` uses), median of
repeated calls after a warm-up call, so it measures the model and runtime, not HTTP or a server.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kit import scenarios
from kit.ids import PAYLOADS
from scenarios.common import inprocess
from scenarios.common.base import quiet_tensorflow

WORK = Path(".kit/bench-models")
REPEATS = 7


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> float:
    predict(x)  # warm-up: graph tracing and first-call costs
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(ids: list[str]) -> None:
    quiet_tensorflow()
    print(
        "scenario   export      params      size_MB  " + "  ".join(f"{p}_ms" for p in PAYLOADS) + "  build_s"
    )
    for sid in ids:
        scn = scenarios.get(sid)
        start = time.monotonic()
        built = scenarios.build_cached(scn, WORK / sid, seed=42)
        build_s = built.metrics.get("seconds", time.monotonic() - start)
        for framework, export in built.exports.items():
            predict = inprocess.load(framework, export, sid)
            ms = [timed(predict, scn.instances(size, 42)) for size in PAYLOADS]
            size_mb = folder_bytes(export) / 1e6
            times = "  ".join(f"{v:>9.2f}" for v in ms)
            params = built.metrics["parameters"]
            print(f"{sid:<10} {framework:<11} {params:>9,} {size_mb:>9.2f}  {times}  {build_s:>7}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(scenarios.IMPLEMENTED))
