"""Outputs under load: the replies the engine kept (every `sample_every`-th measured request) compared
with the built model's own outputs on the same instances, computed in this process.

A framework that answers fast but wrong must not win: a cell with any sampled reply that differs
from the model (beyond the scenario's parity tolerance, or not readable as the framework's answer)
says so in its summary and warnings, and a sweep probe with one misses its SLO (kit/bench/slo.py).
Failed requests are the rows' business (they are errors already) and are not compared; a reply cut
at the engine's keep limit (kit/shipped/engine.py SAMPLE_BODY_BYTES) is counted, not compared.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kit import scenarios
from kit.errors import KitError


@lru_cache(maxsize=16)
def expected(scenario: str, root: str, seed: int, payload: str) -> np.ndarray:
    """The model's outputs on a payload's instances (one Keras load per scenario and payload)."""
    return scenarios.get(scenario).reference_outputs(Path(root), seed, payload)


def check(
    scenario: str,
    framework: str,
    built: scenarios.BuildResult,
    seed: int,
    payload: str,
    path: Path,
    every: int,
) -> dict[str, Any]:
    """The cell's `outputs` account: sampled (2xx replies kept), compared, mismatched, the first
    mismatch in words, and truncated (too long to compare)."""
    want = expected(scenario, str(built.root), seed, payload)
    scn = scenarios.get(scenario)
    sampled = compared = mismatched = truncated = 0
    first = ""
    for line in path.read_text().splitlines():
        sample = json.loads(line)
        if not 200 <= int(sample.get("code") or 0) < 300:
            continue
        sampled += 1
        if sample.get("truncated"):
            truncated += 1
            continue
        compared += 1
        why = mismatch(scn, framework, base64.b64decode(sample["body_b64"]).decode("utf-8", "replace"), want)
        if why:
            mismatched += 1
            first = first or f"request {sample['seq']}: {why}"
    return {
        "every": every,
        "sampled": sampled,
        "compared": compared,
        "mismatched": mismatched,
        "truncated": truncated,
        "first_mismatch": first,
    }


def mismatch(scn: scenarios.Scenario, framework: str, body: str, want: np.ndarray) -> str:
    """Why one reply is not the model's answer, or ""."""
    try:
        got = scn.parse_outputs(framework, body)
    except (KeyError, ValueError, StopIteration, TypeError, IndexError) as exc:
        return f"not readable as {framework}'s answer ({exc}); it began {body[:120]!r}"
    try:
        scenarios.compare(scn, framework, got, want, "under load")
    except KitError as exc:
        return exc.what
    return ""


def warning(account: dict[str, Any]) -> str:
    """The cell's warning when a sampled reply was wrong, else ""."""
    if not account.get("mismatched"):
        return ""
    return (
        f"{account['mismatched']} of {account['compared']} sampled replies differ from the model's outputs "
        f"(first: {account['first_mismatch']})"
    )
