"""manifest.json: everything needed to know what a run measured, and how each cell ended.

The manifest is plain JSON, typed here as TypedDicts: a copied results folder must stay readable by
any tool (jq, a notebook) without the kit, and a dict round-trips through json with nothing lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict, cast, get_args

from kit import __version__
from kit.errors import KitError, write_error
from kit.results.cells import FIELDS, CellKey
from kit.results.price_table import PriceTable
from kit.results.schema import SCHEMA_VERSION, check_version

# overloaded: more than 1 % of the measured requests failed (kit.results.validity); kept, never counted.
Status = Literal["ok", "failed", "partial", "invalid", "skipped", "overloaded"]
CELL_STATUSES: tuple[str, ...] = get_args(Status)


class _CellPart(TypedDict, total=False):
    part: int  # which part of the run measured it (kit.results.resume); 0: the first


class Cell(_CellPart):
    framework: str
    scenario: str
    payload: str
    rate: float
    rep: int
    status: Status
    reason: str  # why it is not ok; "" when it is
    summary: dict[str, Any]  # the cell's row of aggregate.summarize, plus the engine's own summary


class _ManifestParts(TypedDict, total=False):
    """Keys added since the first manifests (resumable runs, restarts): older manifests lack them."""

    pairs: list[list[str]]  # the (framework, scenario) pairs the run was asked for
    # One entry per part of the run: when it started, with which kit, on hosts with which facts.
    parts: list[dict[str, Any]]
    # A framework's service restarted between pairs (kit.bench.recovery), with its steps.
    restarts: list[dict[str, Any]]
    parity: dict[str, dict[str, Any]]  # "framework/scenario" -> parity through the server
    sweeps: dict[str, dict[str, Any]]  # "framework/scenario/payload" -> the SLO sweep's report
    # scenario -> payload -> instances per request (kit.scenarios.instances_per_payload): what a
    # cost per inference divides by. Runs written before it lack it (kit.results.cost says so).
    payload_instances: dict[str, dict[str, int]]
    # The price table the run was benched with (kit.results.pricing.current_table): file, as_of,
    # source, sha256.
    price_table: dict[str, str]
    # The study profile's decisions (kit/bench/study.py): `pairs` ("framework/scenario/payload" ->
    # SLO, lowest rate tried, capacity {rate, low, high, confirmed, outcome, why}, confirmations) and
    # `common` ("scenario/payload" -> the common rate, how it was chosen, its frameworks and reps).
    study: dict[str, dict[str, Any]]


class Manifest(_ManifestParts):
    schema_version: int
    kit_version: str
    git_sha: str
    run_id: str
    created_at: str  # UTC, ISO 8601
    config: dict[str, Any]
    config_hash: str
    provider: str
    hosts: dict[str, dict[str, Any]]  # host name -> facts (CPU model, cores, memory, kernel, GPU...)
    frameworks: dict[str, dict[str, Any]]  # framework -> {"version", "settings", ...}
    models: dict[str, dict[str, Any]]  # scenario -> {digest, files: {file: sha256}, metrics}
    seeds: dict[str, int]
    stage_timings: dict[str, float]  # stage (e.g. "deploy:mlserver:malware") -> seconds
    cells: list[Cell]


def new_manifest(
    *,
    run_id: str,
    kit_version: str,
    git_sha: str,
    config: dict[str, Any],
    config_hash: str,
    provider: str,
    created_at: str | None = None,
) -> Manifest:
    """A run's manifest before anything ran; the stages fill hosts, frameworks, models... as they go."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kit_version": kit_version,
        "git_sha": git_sha,
        "run_id": run_id,
        "created_at": created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config,
        "config_hash": config_hash,
        "provider": provider,
        "hosts": {},
        "frameworks": {},
        "models": {},
        "seeds": {},
        "stage_timings": {},
        "cells": [],
    }


def update_cell(manifest: Manifest, cell: Mapping[str, Any]) -> None:
    """Record a cell's outcome (checked here: a key, a known status); a rerun of the same cell
    replaces its earlier entry."""
    missing = [k for k in (*FIELDS, "status") if k not in cell]
    if missing:
        raise ValueError(f"a cell needs {missing}")
    if cell["status"] not in CELL_STATUSES:
        raise ValueError(f"cell status must be one of {CELL_STATUSES}, got {cell['status']!r}")
    entry = cast(Cell, {**cell, "reason": cell.get("reason") or "", "summary": cell.get("summary") or {}})
    key = CellKey.of(entry)
    manifest["cells"] = [c for c in manifest["cells"] if CellKey.of(c) != key] + [entry]


def record_payload_instances(man: Manifest, scenario: str, counts: Mapping[str, Any]) -> None:
    """Record how many instances one request of each payload of `scenario` carries (the counts of
    kit.scenarios.instances_per_payload); a count that is not a whole number above 0 is refused."""
    bad = sorted(p for p, n in counts.items() if not isinstance(n, int) or isinstance(n, bool) or n <= 0)
    if bad or not counts:
        raise KitError(
            f"scenario {scenario}: no usable instance count for payload {', '.join(bad) or '(none given)'}",
            f"Give every payload size a count > 0 in payload_sizes (scenarios/{scenario}/__init__.py)",
        )
    man.setdefault("payload_instances", {})[scenario] = dict(sorted(counts.items()))


def record_price_table(man: Manifest, table: PriceTable) -> None:
    """Record which price table was the newest when the run was benched (kit.results.pricing
    .current_table): the report prices with the newest table and names this one when they differ."""
    man["price_table"] = table.provenance()


def path_of(run_dir: Path) -> Path:
    return run_dir / "manifest.json"


def save(run_dir: Path, manifest: Manifest) -> Path:
    """Replace manifest.json atomically: a crash mid-save leaves the previous manifest, not half a file."""
    target = path_of(run_dir)
    tmp = run_dir / f".manifest.json.{os.getpid()}.{secrets.token_hex(4)}.partial"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tmp.open("x") as fh:
            # default=str: summaries may carry numpy or datetime values; a string beats a lost manifest.
            json.dump(manifest, fh, indent=2, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        kept = "the manifest as last saved is still in place" if target.exists() else ""
        raise write_error(target, exc.errno, exc.strerror or str(exc), kept) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return target


def load(run_dir: Path, kit_version: str = __version__) -> Manifest:
    """Read a run's manifest, refusing one this kit cannot read rather than misreading it."""
    target = path_of(run_dir)
    if not target.is_file():
        raise KitError(
            f"{target} is missing",
            "Is this a results folder? Each run holds a manifest.json beside its raw/ folder",
        )
    try:
        doc = json.loads(target.read_text())
    except json.JSONDecodeError as exc:
        raise _corrupt(target, f"{exc.msg} at line {exc.lineno}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(target, str(exc)) from None
    if not isinstance(doc, dict):
        raise _corrupt(target, f"a JSON {type(doc).__name__}, not an object")
    check_version(target, doc.get("schema_version"), doc.get("kit_version"), kit_version)
    missing = sorted(Manifest.__required_keys__ - doc.keys())
    if missing:
        raise _corrupt(target, f"fields {missing} are missing")
    return cast(Manifest, doc)


class CorruptManifest(KitError):
    """A manifest that is there but unreadable: a report can still show the raw rows beside it."""


def _corrupt(target: Path, detail: str) -> KitError:
    return CorruptManifest(
        f"{target} is corrupt ({detail})",
        "Restore it from a copy; the raw rows beside it are kept and untouched",
    )
