"""A run's manifest and files, with one owner: every outcome, pair, restart and sweep is recorded
here, saved at once (a crash or Ctrl-C loses nothing recorded) and shown to the user as it lands.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kit import __version__, frameworks, scenarios
from kit.config import Config
from kit.errors import KitError
from kit.results import manifest, resume
from kit.results.cells import CellKey
from kit.results.price_table import PriceTable

OnCell = Callable[[dict[str, Any]], None]


class Run:
    def __init__(self, man: manifest.Manifest, run_dir: Path, on_cell: OnCell | None = None) -> None:
        self.man = man
        self.dir = run_dir
        self.on_cell = on_cell

    @property
    def id(self) -> str:
        return self.man["run_id"]

    def save(self) -> None:
        manifest.save(self.dir, self.man)

    def done(self) -> set[CellKey]:
        """The cells whose outcome is final: a resumed run does not measure them again."""
        return resume.done_cells(self.man)

    def start_part(self, git_sha: str, facts: dict[str, dict[str, Any]]) -> int:
        """One more part of the run begins on hosts with these facts; returns its number."""
        self.man["hosts"] = self.man["hosts"] or facts  # the first part's; later parts' are under `parts`
        part = resume.start_part(self.man, git_sha, __version__, facts)
        self.save()
        return part

    def record_what_prices_it(self, scenario_ids: list[str], table: PriceTable) -> None:
        """What a cost per inference divides by (each payload's instances per request) and the price
        table the run is benched with; a resumed run keeps its first part's table."""
        for scenario in dict.fromkeys(scenario_ids):
            manifest.record_payload_instances(self.man, scenario, scenarios.instances_per_payload(scenario))
        if "price_table" not in self.man:
            manifest.record_price_table(self.man, table)
        self.save()

    def record(self, record: dict[str, Any], *, announce: bool = True) -> None:
        """A cell's outcome (a rerun of the same cell replaces its earlier entry); saved at once,
        shown to the user unless `announce` is False (an outcome that may yet change)."""
        manifest.update_cell(self.man, record)
        self.save()
        if announce:
            self.announce(record)

    def announce(self, record: dict[str, Any]) -> None:
        if self.on_cell:
            self.on_cell(record)

    def record_unrun(self, keys: list[CellKey], status: str, reason: str) -> None:
        """Cells that were never run (framework skipped or undeployable, server gone) with the reason."""
        for key in keys:
            record = {**key.as_dict(), "status": status, "reason": reason, "summary": {}}
            manifest.update_cell(self.man, record)
            if self.on_cell:
                self.on_cell(record)
        self.save()

    def record_pair(
        self,
        cfg: Config,
        framework: str,
        scenario: str,
        built: scenarios.BuildResult,
        parity: dict[str, Any],
        stage: str,
        seconds: float,
    ) -> None:
        """What a pair's cells are measured on: the model, its parity through the server, the
        framework's version and settings, and how long its deploy took."""
        self.man["models"][scenario] = {
            "digest": built.digest,
            "files": built.hashes,
            "metrics": built.metrics,
        }
        self.man.setdefault("parity", {})[f"{framework}/{scenario}"] = parity
        self.man["frameworks"][framework] = {
            "version": frameworks.get(framework).version,
            "settings": cfg.settings_for(framework).model_dump(),
            "ports": frameworks.get(framework).ports,
        }
        self.man["stage_timings"][stage] = round(seconds, 1)
        self.save()

    def record_restart(self, entry: dict[str, Any]) -> None:
        self.man.setdefault("restarts", []).append(entry)
        self.save()

    def record_sweep(self, name: str, report: dict[str, Any]) -> None:
        self.man.setdefault("sweeps", {})[name] = report
        self.save()

    def record_of(self, key: CellKey) -> dict[str, Any]:
        """The manifest's entry of a cell (KeyError when it has none)."""
        for c in self.man["cells"]:
            if CellKey.of(c) == key:
                return dict(c)
        raise KeyError(str(key))

    def record_study(self, part: str, name: str, entry: dict[str, Any]) -> None:
        """A study's pair (`pairs`, "framework/scenario/payload") or common rate (`common`,
        "scenario/payload"), replacing what an earlier part said of it."""
        self.man.setdefault("study", {}).setdefault(part, {})[name] = entry
        self.save()

    def study(self) -> dict[str, dict[str, Any]]:
        return dict(self.man.get("study") or {})

    def sweeps(self) -> dict[str, Any]:
        """The run's sweeps (pair/payload -> best rate, probes, why it stopped), empty without any."""
        return dict(self.man.get("sweeps", {}))

    def same_model(self, scenario: str, built: scenarios.BuildResult) -> None:
        """A resumed run measures the model its first part measured, or nothing."""
        before = (self.man["models"].get(scenario) or {}).get("digest")
        if before and before != built.digest:
            raise KitError(
                f"the {scenario} model built today (digest {built.digest}) is not the one {self.id} "
                f"measured (digest {before})",
                "The scenario's code or seed changed since the run started; start a new run",
            )

    def supersede_partial(self, key: CellKey, part: int) -> list[str]:
        """A cell cut off in an earlier part is measured again; its files move aside first (raw rows
        are never rewritten). Returns where they went, relative to the run, for its manifest entry."""
        if not any(CellKey.of(c) == key and c["status"] == "partial" for c in self.man["cells"]):
            return []
        raw = key.raw_path(self.dir)
        files = [raw, key.telemetry_path(self.dir)]
        name = key.id(self.id)
        if raw.parent.is_dir():  # the engine's CSV and plan, the samplers' output
            files += sorted(
                p for p in raw.parent.iterdir() if p.name == name or p.name.startswith(f"{name}.")
            )
        return [str(p.relative_to(self.dir)) for p in resume.supersede(self.dir, files, part)]

    def cut_by_full_disk(self, key: CellKey, what: str) -> None:
        """The cell a full disk cut, in the manifest too when the disk still has room for it."""
        with contextlib.suppress(KitError):
            self.record_unrun([key], "failed", what)


def stage_name(framework: str, scenario: str, part: int) -> str:
    return f"deploy:{framework}:{scenario}" + (f":part{part}" if part else "")
