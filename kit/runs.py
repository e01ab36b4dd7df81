"""Runs in the results folder: their ids, finding one by name, and the code version that made it."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from kit import proc
from kit.errors import KitError, UsageError
from kit.paths import REPO_ROOT, Workspace


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def resolve(ws: Workspace, run: str | None) -> Path:
    """RUN as a folder or a name under the results folder; without one, the latest run."""
    root = ws.results
    if run:
        candidate = Path(run) if Path(run).is_dir() else root / run
        if not candidate.is_dir():
            raise UsageError(f"no run '{run}' under {root}", "List runs with `ls results/`")
        return candidate
    runs = sorted(p for p in root.glob("*") if (p / "manifest.json").exists()) if root.exists() else []
    if not runs:
        raise KitError(f"no runs under {root}", "Run `kit bench FRAMEWORK SCENARIO` first")
    return runs[-1]


def git_sha() -> str:
    try:
        res = proc.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], timeout=10, check=False)
    except KitError:
        return "unknown"
    return res.stdout.strip() if res.returncode == 0 else "unknown"
