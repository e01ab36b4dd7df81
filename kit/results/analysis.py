"""One run, read whole: its manifest, per-cell figures, resource usage and averages over repetitions.

Everything the report and `compare` show comes from here, and only from the run folder, so a copied
results folder gives the same figures anywhere. Damage is stepped around, never hidden: a missing or
corrupt manifest, a truncated or misplaced raw file, an unreadable telemetry file, a cell the
manifest calls measured whose raw file is gone, a run without a single measured row each become a
line in `problems`, and everything else is still shown; `notes` holds what is worth knowing but is
not damage. Only a file of an unknown schema version stops the reading (it could be misread), and
so does a run with neither a manifest nor a single readable raw file (there is nothing to show).

Which repetitions count towards averages, claims and cost (`counted`): those whose manifest status
is `ok`; for rows the manifest does not list, those whose own rows are valid with at least one 2xx
and at most 1 % failed requests. Invalid cells (the client limited them), overloaded, failed and
partial ones stay in the per-cell table. A cell a kit before the overload rule recorded `ok` while
more than 1 % of its measured requests failed is shown, from its rows, as `overloaded` (and a note
says so): the rule judges the figures, whichever kit wrote the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kit.errors import KitError
from kit.ids import SCENARIOS
from kit.results import aggregate, manifest, repetitions, store, usage, validity
from kit.results.aggregate import CELL, GROUP
from kit.results.cells import CellKey, rate_label
from kit.results.manifest import Manifest

STATUS_SCHEMA: dict[str, pl.DataType] = {
    "framework": pl.String(),
    "scenario": pl.String(),
    "payload": pl.String(),
    "rate": pl.Float64(),
    "rep": pl.Int32(),
    "status": pl.String(),
    "reason": pl.String(),
}
#: Statuses whose cell always wrote rows: their raw file missing is worth a note.
MEASURED = ("ok", "invalid", "overloaded")
#: How a group (GROUP values) is drawn: its counted repetitions, or marked as not counted and why.
COUNTED, OVERLOADED, NOT_COUNTED = "counted", "overloaded", "not counted"


@dataclass
class RunData:
    run_dir: Path
    manifest: Manifest | None
    files: list[store.RawFile]
    cells: pl.DataFrame  # aggregate.CELL_STATS + status, reason, counted + usage.USAGE_SCHEMA figures
    groups: pl.DataFrame  # repetitions.across_reps of cells, + reps_overloaded
    problems: list[str] = field(default_factory=list)  # damage: what could not be read
    notes: list[str] = field(default_factory=list)  # caveats that are not damage

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"] if self.manifest else self.run_dir.name

    @property
    def scenarios(self) -> list[str]:
        """The scenarios this run set out to measure (its config) or measured, in the kit's order."""
        listed = (self.manifest["config"].get("scenarios") or []) if self.manifest else []
        seen = set(listed) | set(self.cells["scenario"].to_list())
        return [s for s in SCENARIOS if s in seen] + sorted(seen - set(SCENARIOS))

    def cell_records(self) -> list[dict[str, Any]]:
        """The manifest's cells, with the status and reason the report shows (an `ok` the overload
        rule overturns reads `overloaded`, from the rows)."""
        shown = {
            CellKey.of(r): (r["status"], r["reason"])
            for r in self.cells.filter(pl.col("status").is_not_null()).iter_rows(named=True)
        }
        out = []
        for c in self.manifest["cells"] if self.manifest else []:
            status, reason = shown.get(CellKey.of(c), (c["status"], c.get("reason") or ""))
            out.append({**c, "status": status, "reason": reason})
        return out

    def group_marks(self) -> dict[tuple[Any, ...], str]:
        """GROUP values -> COUNTED when a repetition counted, else OVERLOADED when one was overloaded,
        else NOT_COUNTED: how the plots mark a group's figures."""
        marks = self.cells.group_by(GROUP).agg(
            pl.col("counted").any().alias("_counted"), (pl.col("status") == "overloaded").any().alias("_over")
        )
        return {
            tuple(r[c] for c in GROUP): COUNTED
            if r["_counted"]
            else OVERLOADED
            if r["_over"]
            else NOT_COUNTED
            for r in marks.iter_rows(named=True)
        }

    def group_files(self, only_counted: bool = True) -> dict[tuple[Any, ...], list[Path]]:
        """GROUP values -> the raw files of its (counted) repetitions, for the pooled distributions."""
        keep = {CellKey.of(r) for r in self.cells.iter_rows(named=True) if r["counted"] or not only_counted}
        out: dict[tuple[Any, ...], list[Path]] = {}
        for f in self.files:
            if f.cell in keep:
                out.setdefault(f.cell.group, []).append(f.path)
        return dict(sorted(out.items()))


def analyse(run_dir: Path) -> RunData:
    problems: list[str] = []
    man = _manifest(run_dir, problems)
    files, unreadable = store.inspect_raw(run_dir)
    problems += unreadable
    if man is None and not files:
        raise KitError(
            f"{run_dir} has neither a readable manifest nor a readable raw file",
            "Check the path: a run folder holds manifest.json and raw/<framework>/...",
        )
    stats, damaged = aggregate.run_cell_stats(files)
    problems += damaged
    statuses = _statuses(man)
    problems += _missing_rows(statuses, stats)
    cells, overturned = _overloaded(stats.join(statuses, on=CELL, how="left", nulls_equal=True))
    own = pl.col("valid") & (pl.col("ok") > 0) & (pl.col("error_rate") <= validity.MAX_ERROR_RATE)
    cells = cells.with_columns(
        pl.when(pl.col("status").is_null()).then(own).otherwise(pl.col("status") == "ok").alias("counted")
    )
    used, bad_telemetry, notes = usage.cell_usage(run_dir)
    problems += bad_telemetry
    notes = ([overturned] if overturned else []) + notes
    cells = cells.join(used, on=CELL, how="left", nulls_equal=True)
    if cells.height == 0:
        problems.insert(0, _no_rows(run_dir, man))  # the first thing to know, ahead of the details
    return RunData(run_dir, man, files, cells, _groups(cells), problems, notes)


def _overloaded(cells: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Cells the manifest calls `ok` whose rows break the overload rule, shown `overloaded` with the
    reason; and the note that says so ("" when there are none)."""
    over = (pl.col("status") == "ok") & (pl.col("error_rate") > validity.MAX_ERROR_RATE)
    flagged = cells.select(over.fill_null(False).alias("_over"))["_over"]
    if not flagged.any():
        return cells, ""
    reasons = [
        validity.overload_reason(r["requests"], r["errors"]) if hit else r["reason"]
        for r, hit in zip(cells.iter_rows(named=True), flagged, strict=True)
    ]
    shown = cells.with_columns(
        pl.when(flagged).then(pl.lit("overloaded")).otherwise(pl.col("status")).alias("status"),
        pl.Series("reason", reasons, dtype=pl.String),
    )
    n = int(flagged.sum())
    return shown, (
        f"{n} cell{'s' if n > 1 else ''} the manifest records `ok` had more than "
        f"{100 * validity.MAX_ERROR_RATE:g} % of {'their' if n > 1 else 'its'} measured requests fail (a "
        "kit before the overload rule wrote the manifest): shown as `overloaded` and not counted"
    )


def _groups(cells: pl.DataFrame) -> pl.DataFrame:
    """across_reps of the cells, with how many repetitions of each group were overloaded."""
    groups = repetitions.across_reps(cells)
    over = cells.group_by(GROUP).agg(
        (pl.col("status") == "overloaded").sum().cast(pl.Int64).alias("reps_overloaded")
    )
    joined = groups.join(over, on=GROUP, how="left", nulls_equal=True)
    first = [*GROUP, "reps", "reps_counted", "reps_overloaded"]
    return joined.select(
        *first[:-1], pl.col("reps_overloaded").fill_null(0), *[c for c in groups.columns if c not in first]
    )


def _no_rows(run_dir: Path, man: Manifest | None) -> str:
    """Why a run has nothing to aggregate, with the first recorded reason when the manifest has one."""
    listed = [c for c in (man["cells"] if man else []) if c.get("status") != "ok"]
    if not listed:
        return f"run {run_dir.name} has no measured rows"
    first = listed[0]
    return (
        f"run {run_dir.name} has no measured rows: {len(listed)} cell(s) did not end ok "
        f"(first: {first['framework']}/{first['scenario']} {first['payload']}: "
        f"{first['status']}, {first.get('reason') or 'no reason recorded'})"
    )


def _manifest(run_dir: Path, problems: list[str]) -> Manifest | None:
    if not manifest.path_of(run_dir).is_file():
        problems.append(
            f"{manifest.path_of(run_dir)} is missing: no run facts, cell statuses or cost; "
            "figures come from the raw rows alone"
        )
        return None
    try:
        return manifest.load(run_dir)
    except manifest.CorruptManifest as exc:
        problems.append(
            f"{exc.what}: no run facts, cell statuses or cost; figures come from the raw rows alone"
        )
        return None


def _statuses(man: Manifest | None) -> pl.DataFrame:
    rows = [
        {k: c.get(k) for k in STATUS_SCHEMA} | {"reason": c.get("reason") or ""}
        for c in (man["cells"] if man else [])
    ]
    return pl.DataFrame(rows, schema=STATUS_SCHEMA)


def _missing_rows(statuses: pl.DataFrame, stats: pl.DataFrame) -> list[str]:
    gone = statuses.filter(pl.col("status").is_in(MEASURED)).join(stats.select(CELL), on=CELL, how="anti")
    return [
        f"{r['framework']}/{r['scenario']} {r['payload']} @ {rate_label(r['rate'])} req/s "
        f"rep {r['rep']}: {r['status']} in the manifest, but its raw rows are missing or unreadable"
        for r in gone.sort(CELL).iter_rows(named=True)
    ]


def not_measured_reason(data: RunData, framework: str, scenario: str) -> str:
    """Why a framework has no counted repetition on a scenario, from the manifest and the cells."""
    cells = data.cells.filter((pl.col("framework") == framework) & (pl.col("scenario") == scenario))
    if cells.height:
        statuses = sorted(set(cells["status"].fill_null("unlisted").to_list()))
        return f"no counted repetition ({', '.join(statuses)})"
    listed = [
        c
        for c in (data.manifest["cells"] if data.manifest else [])
        if c.get("framework") == framework and c.get("scenario") == scenario
    ]
    if listed:
        first = listed[0]
        return f"{first['status']}: {first.get('reason') or 'no reason recorded'}"
    return "not in this run"


__all__ = ["GROUP", "RunData", "analyse", "not_measured_reason"]
