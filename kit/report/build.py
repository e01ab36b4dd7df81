"""`kit report`: results/<run>/report/report.md and latency.png, from the run folder alone.

Reads only what the run folder holds (manifest.json and raw/), so a results folder copied to a
laptop with no hosts reports the same as on the controller that measured it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kit.report.plots import latency_cdf
from kit.report.tables import cell_status_lines, summary_table
from kit.results import aggregate, manifest, store
from kit.results.manifest import Manifest

NO_ROWS = "No measured rows in this run.\n"


def build_report(run_dir: Path) -> list[Path]:
    """Write the report files (overwritten on every call: they derive from the run) and return their paths."""
    man = manifest.load(run_dir)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    # A run whose every cell failed before writing rows still gets a report listing why.
    rows = store.scan_raw(run_dir) if store.raw_files(run_dir) else None
    summary = aggregate.summarize(rows) if rows is not None else None
    md = out / "report.md"
    md.write_text(render_markdown(man, summary))
    written = [md]
    if rows is not None:
        written.append(latency_cdf(rows, out / "latency.png"))
    return written


def render_markdown(man: Manifest, summary: pl.DataFrame | None) -> str:
    parts = [
        f"# Run {man['run_id']}\n",
        f"Provider {man['provider']}, kit {man['kit_version']} (git {man['git_sha'][:12]}), "
        f"config hash {man['config_hash']}, created {man['created_at']}.\n",
        "Latency is measured from each request's scheduled send time (open loop); warm-up rows are "
        "excluded; quantiles interpolate linearly. A cell is invalid when the client's send-lag p99 "
        "exceeds 1 ms or it achieved under 99 % of the target rate.\n",
        "## Latency and throughput per cell\n",
        summary_table(summary) if summary is not None and summary.height else NO_ROWS,
    ]
    status = cell_status_lines(man["cells"])
    if status:
        parts += ["## Cells that did not end ok\n", status]
    return "\n".join(parts)
