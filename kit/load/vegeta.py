"""vegeta (github.com/tsenart/vegeta) as the load engine: its targets, its commands, its records.

The product brief asks for vegeta beside the kit's own engine. It runs on the client host as a
subprocess, one `vegeta attack` per phase (warm-up, then the measured phase), and `vegeta encode
-to json` turns its binary results into JSON lines, which are kept beside the raw rows as captured.

vegeta's contract, from its documentation:
- targets, with `-format=json`: one object per line, {"method", "url", "body" (base64), "header":
  {"Name": ["value", ...]}};
- records, from `encode -to json`: one object per request, {"attack", "seq", "code" (0: the request
  failed before any reply), "timestamp" (RFC 3339 with nanoseconds: when the request actually
  started), "latency" (ns), "bytes_out", "bytes_in", "error", "body" (base64), "method", "url",
  "header"}; `seq` counts from 0 in each attack.

What differs from the kit's engine, and is recorded rather than hidden: vegeta times a request
from its actual start, not from its scheduled time, so its rows carry intended_ns = sent_ns (the
send lag is unknown, not zero) and a server stall shows less in its tail (coordinated omission).
It paces at a constant rate only.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from calendar import timegm
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from kit.errors import KitError, UsageError
from kit.load import engine_rows
from kit.load.plan import Plan
from kit.results.schema import conform

#: vegeta's own default for -max-workers (the largest uint64): workers are added as the open loop
#: needs them, never capped. Written out so that the command says so.
UNBOUNDED_WORKERS = 2**64 - 1
TIMING_NOTE = "vegeta times each request from its actual start: send lag unknown, stalls understated"
RECORD_FIELDS = ("attack", "seq", "code", "timestamp", "latency", "bytes_out", "bytes_in", "error")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def targets_jsonl(plan: Plan) -> str:
    """The plan's targets in vegeta's JSON target format, one per line, bodies base64-encoded."""
    lines = []
    for t in plan.targets:
        line = {
            "method": t.method,
            "url": t.url,
            "body": base64.b64encode(t.body).decode(),
            "header": {name: [value] for name, value in t.headers.items()},
        }
        lines.append(json.dumps(line, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def rate_flag(rate: float) -> str:
    """vegeta's -rate takes whole requests per a period: 12.5 req/s is 25/2s."""
    frac = Fraction(rate).limit_denominator(1000)
    return f"{frac.numerator}/{frac.denominator}s" if frac.denominator != 1 else f"{frac.numerator}/1s"


def duration_flag(seconds: float) -> str:
    """A Go duration; milliseconds, so that 2.5 s and 1e3 s both come out exact and parseable."""
    return f"{round(seconds * 1000)}ms"


def attack_command(
    plan: Plan, phase_index: int, targets: str, output: str, vegeta: str = "vegeta"
) -> list[str]:
    """One phase of the plan as a `vegeta attack` command line."""
    if plan.arrival != "constant":
        raise UsageError(
            f"vegeta cannot send '{plan.arrival}' arrivals: it paces at a constant rate only",
            "Use --arrival constant with --engine vegeta, or --engine kit for Poisson arrivals",
        )
    phase = plan.phases[phase_index]
    return [
        vegeta,
        "attack",
        "-format=json",
        f"-targets={targets}",
        f"-name={phase.name}",
        f"-rate={rate_flag(phase.rate)}",
        f"-duration={duration_flag(phase.duration_s)}",
        f"-max-workers={UNBOUNDED_WORKERS}",
        f"-timeout={duration_flag(plan.timeout_s)}",
        f"-keepalive={'true' if plan.keepalive else 'false'}",
        "-redirects=-1",  # like the kit's engine: a redirect is an answer, not followed
        f"-output={output}",
    ]


def encode_command(inputs: Sequence[str], output: str, vegeta: str = "vegeta") -> list[str]:
    return [vegeta, "encode", "-to=json", f"-output={output}", *inputs]


def cell_script(plan: Plan, workdir: str, vegeta: str = "vegeta") -> str:
    """The shell script the client host runs for one cell: each phase's attack, then one encode.

    Its PID is written first so that Ctrl-C on the controller stops exactly this cell: the trap
    passes SIGINT on to the running attack (vegeta then stops and writes the results it has), skips
    the phases not started, and still encodes what was measured. Exit 130 says it was interrupted.
    """
    q = shlex.quote
    attacks = []
    bins = []
    for i, phase in enumerate(plan.phases):
        out = f"{phase.name}.bin"
        bins.append(out)
        cmd = " ".join(q(a) for a in attack_command(plan, i, "targets.jsonl", out, vegeta))
        attacks.append(f'if [ "$stopped" = 0 ]; then {cmd} & child=$!; wait_child; fi')
    encode = " ".join(q(a) for a in encode_command(bins, "records.jsonl", vegeta))
    return (
        "\n".join(
            [
                "set -u",
                f"cd {q(workdir)}",
                "echo $$ > cell.pid",
                "rm -f records.jsonl " + " ".join(q(b) for b in bins),
                "stopped=0; child=",
                'trap \'stopped=1; [ -n "$child" ] && kill -INT "$child" 2>/dev/null\' INT TERM',
                # wait returns early when a trapped signal arrives: wait again for vegeta to flush.
                'wait_child() { wait "$child"; rc=$?; while kill -0 "$child" 2>/dev/null; do wait "$child"; '
                'rc=$?; done; child=; [ "$stopped" = 1 ] || [ "$rc" = 0 ] || exit "$rc"; }',
                *attacks,
                f'for f in {" ".join(q(b) for b in bins)}; do [ -f "$f" ] || : > "$f"; done',
                encode,
                'if [ "$stopped" = 1 ]; then exit 130; fi',
            ]
        )
        + "\n"
    )


def epoch_ns(timestamp: str) -> int:
    """An RFC 3339 timestamp with up to nanoseconds (Go's RFC3339Nano) as epoch nanoseconds."""
    m = _RFC3339.match(timestamp)
    if not m:
        raise ValueError(f"timestamp {timestamp!r} is not RFC 3339")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    fraction = (m.group(7) or "").ljust(9, "0")
    seconds = timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        seconds -= offset if m.group(9) == "+" else -offset
    return seconds * 1_000_000_000 + int(fraction)


def read_records(path: Path) -> list[dict[str, Any]]:
    """vegeta's JSON lines, each checked for the fields the raw rows need; a cut-off file is refused."""
    if not path.is_file():
        raise KitError(
            f"vegeta's records {path} are missing",
            "vegeta did not run or its file was not fetched; see the ssh log",
        )
    text = path.read_text()
    if text and not text.endswith("\n"):
        raise _corrupt(path, "the last record is cut off")
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _corrupt(path, f"line {n} is not JSON ({exc.msg})") from None
        missing = [f for f in RECORD_FIELDS if f not in rec]
        if missing:
            raise _corrupt(path, f"line {n} lacks {', '.join(missing)}")
        records.append(rec)
    return records


def rows_from_records(
    records: list[dict[str, Any]],
    phases: Sequence[str],
    *,
    run_id: str,
    framework: str,
    scenario: str,
    payload: str,
    rate: float,
    rep: int,
) -> pl.DataFrame:
    """vegeta's records as raw rows: one per request, errors kept, in send order.

    seq numbers the whole cell: each attack's own seq (from 0) is offset by the requests of the
    phases before it, so that warm-up and measured rows stay distinct and in order.
    """
    by_phase: dict[str, list[dict[str, Any]]] = {name: [] for name in phases}
    for rec in records:
        name = str(rec["attack"])
        if name not in by_phase:
            raise KitError(
                f"vegeta record of an unknown attack '{name}'",
                f"Expected attacks named {', '.join(phases)}; rerun the cell",
            )
        by_phase[name].append(rec)
    columns = ("phase", "seq", "sent_ns", "latency", "code", "out", "in", "err")
    rows: dict[str, list[Any]] = {k: [] for k in columns}
    offset = 0
    for name in phases:
        recs = by_phase[name]
        for rec in recs:
            rows["phase"].append(name)
            rows["seq"].append(offset + int(rec["seq"]))
            rows["sent_ns"].append(epoch_ns(str(rec["timestamp"])))
            rows["latency"].append(int(rec["latency"]))
            rows["code"].append(int(rec["code"]))
            rows["out"].append(int(rec["bytes_out"]))
            rows["in"].append(int(rec["bytes_in"]))
            rows["err"].append(str(rec["error"] or "") or None)
        offset += max((int(r["seq"]) for r in recs), default=-1) + 1
    df = pl.DataFrame(
        {
            "phase": pl.Series(rows["phase"], dtype=pl.String),
            "seq": pl.Series(rows["seq"], dtype=pl.Int64),
            "sent_ns": pl.Series(rows["sent_ns"], dtype=pl.Int64),
            "latency_ns": pl.Series(rows["latency"], dtype=pl.Int64),
            "code": pl.Series(rows["code"], dtype=pl.Int32),
            "bytes_out": pl.Series(rows["out"], dtype=pl.Int64),
            "bytes_in": pl.Series(rows["in"], dtype=pl.Int64),
            "error": pl.Series(rows["err"], dtype=pl.String),
        }
    )
    if df["seq"].n_unique() != df.height:
        raise KitError("vegeta's records repeat a seq within an attack", "Rerun the cell; the file is kept")
    df = df.sort("seq").with_columns(
        *engine_rows.cell_columns(run_id, framework, scenario, payload, rate, rep),
        pl.col("sent_ns").alias("intended_ns"),  # vegeta records the actual start only
        (pl.col("sent_ns") + pl.col("latency_ns")).alias("done_ns"),
        pl.col("latency_ns").alias("service_ns"),
        pl.lit("vegeta").alias("engine"),
    )
    return conform(df)


def missing_error(host: str, reason: str = "") -> KitError:
    """What `--engine vegeta` says on a client host without vegeta."""
    why = f" ({reason})" if reason else ""
    return KitError(
        f"vegeta is not installed on {host}{why}",
        "The load_client role installs vegeta's release binary where the host can reach GitHub; "
        "rerun `kit up` on such a host, or bench with --engine kit",
    )


def _corrupt(path: Path, why: str) -> KitError:
    return KitError(
        f"vegeta's records {path} are truncated or corrupt ({why})", "Rerun the cell; the file is kept"
    )
