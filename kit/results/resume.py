"""Resuming a run: which cells are still to measure, and where a cut-off cell's files go.

A study-sized run (the paper profile: 144 cells, over three hours on one machine) outlives a
terminal, a laptop lid or a session. `kit bench ... --resume RUN` measures only the cells the
manifest does not hold a final outcome for (a sweep or a study replays the outcomes it holds to know
which rate comes next: kit/bench/sweep.py), with the settings the run started with, and says in the
manifest when and on which hosts each later part ran, so that a report can name a run measured in
parts. Raw rows are never rewritten (store.py): a `partial` cell's files are moved aside to
`superseded/<part>/`, kept as evidence, before the cell is measured again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from kit.errors import KitError, UsageError, write_error
from kit.results import manifest
from kit.results.cells import CellKey

#: Outcomes a resume keeps; a `partial` cell (Ctrl-C mid-cell) is measured again.
FINAL = tuple(s for s in manifest.CELL_STATUSES if s != "partial")

#: Hosts' facts that make two parts of a run comparable; a report names any that changed.
COMPARED_FACTS = (
    "cpu_model",
    "cores",
    "cpus",
    "memory_mb",
    "memory_limit_bytes",
    "kernel",
    "os",
    "python",
    "link",
)


def check_resumable(man: manifest.Manifest, run_dir: Path, config_hash: str) -> None:
    """Refuse a resume that would mix measurements taken under different configurations."""
    bench = (man.get("config") or {}).get("bench")
    if not bench:
        raise KitError(
            f"{run_dir.name} cannot be resumed: its manifest does not record its bench settings",
            "It was made by an older kit; start a new run",
        )
    if man["config_hash"] != config_hash:
        raise UsageError(
            f"the configuration changed since {run_dir.name} started "
            f"(config hash {config_hash}, the run's {man['config_hash']})",
            "Resume with the configuration the run started with (its manifest.json holds it under "
            "`config`), or start a new run",
        )


def done_cells(man: manifest.Manifest) -> set[CellKey]:
    """The cells whose outcome is final."""
    return {CellKey.of(c) for c in man["cells"] if c["status"] in FINAL}


def first_part(man: manifest.Manifest) -> None:
    """A run made before parts were recorded: its first part is what its manifest says of it."""
    if "parts" not in man:
        man["parts"] = [
            {
                "started_at": man["created_at"],
                "git_sha": man["git_sha"],
                "kit_version": man["kit_version"],
                "cells_final_before": 0,
                "hosts": man["hosts"],
            }
        ]


def start_part(
    man: manifest.Manifest, git_sha: str, kit_version: str, hosts: dict[str, dict[str, Any]]
) -> int:
    """Record that a part of the run starts now, on these hosts; returns its number."""
    parts = man.setdefault("parts", [])
    parts.append(
        {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "git_sha": git_sha,
            "kit_version": kit_version,
            "cells_final_before": len(done_cells(man)),
            "hosts": hosts,
        }
    )
    return len(parts) - 1


def changed_facts(man: manifest.Manifest) -> list[str]:
    """`part k: host fact a -> b` for every compared fact that differs from the first part's."""
    parts = man.get("parts") or []
    if len(parts) < 2:
        return []
    first = parts[0].get("hosts") or {}
    out = []
    for k, part in enumerate(parts[1:], start=1):
        for host, facts in sorted((part.get("hosts") or {}).items()):
            before = first.get(host) or {}
            for fact in COMPARED_FACTS:
                if str(before.get(fact, "")) != str(facts.get(fact, "")):
                    out.append(f"part {k}: {host} {fact} {before.get(fact, '?')} -> {facts.get(fact, '?')}")
    return out


def supersede(run_dir: Path, files: list[Path], part: int) -> list[Path]:
    """Move a cut-off cell's files to superseded/part<part>/<same place>, out of every scan of raw/
    and telemetry/, so that the cell can be measured again; returns where they went."""
    moved = []
    for src in files:
        if not src.exists():
            continue
        dest = run_dir / "superseded" / f"part{part}" / src.relative_to(run_dir)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        except OSError as exc:
            raise write_error(dest, exc.errno, exc.strerror or str(exc), f"{src} is untouched") from exc
        moved.append(dest)
    return moved
