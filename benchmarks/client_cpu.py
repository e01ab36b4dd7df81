"""Part 3 of benchmarks/engine.py: the CPU each HTTP client spends per request, the kit's engine
(kit/shipped/engine.py) against an open-loop client on aiohttp, both against the same nginx in one run.

Run as a script (`client_cpu.py aiohttp PLAN.json OUT.csv`) this file is that aiohttp client: the
same plan file the engine reads, the same schedule (kit.shipped.engine.schedule), the same uvloop event
loop, connections opened before t0, one task per request launched when due, one CSV row per request.
It is what one would write with aiohttp in place of the engine's own HTTP client.

CPU is the client process's user + system seconds from the kernel (getrusage of the reaped child),
not wall-clock throughput: the machine may be shared, and a neighbour slows a client's clock but not
its CPU seconds. Each client runs a short and a long schedule at the same rate; the difference of
their CPU over the difference of their requests is the cost of one more request, free of the fixed
start-up cost (interpreter, imports, plan, connections, file), which is printed beside it.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.load.plan import Phase, Plan, Target, engine_path

CLIENTS = ("engine", "aiohttp")


@dataclass(frozen=True)
class ClientRun:
    client: str
    requests: int
    cpu_s: float
    errors: int
    not_sent: int
    lag_p99_ms: float


def cpu_plan(url: str, rate: float, duration: float) -> Plan:
    """One measured phase, one process, ordinary priority: both clients run under the same rules."""
    return Plan(
        targets=[Target("POST", url, {"Content-Type": "application/json"}, b'{"inputs": [1, 2, 3]}')],
        phases=[Phase("measure", rate, duration)],
        warm_connections=8,
        timeout_s=10,
        drain_s=10,
        processes=1,
        realtime=False,
    )


def run_client(client: str, plan: Plan, work: Path, core: int) -> ClientRun:
    """Start one client pinned to `core`, wait for it, and take its CPU seconds from the kernel."""
    plan_file, out = work / "cpu-plan.json", work / f"cpu-{client}.csv"
    plan_file.write_text(plan.to_json())
    program = [str(engine_path())] if client == "engine" else [__file__, "aiohttp"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        ["taskset", "-c", str(core), sys.executable, *program, str(plan_file), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"the {client} client failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    lags = sorted(int(r["sent_ns"]) - int(r["intended_ns"]) for r in rows)
    return ClientRun(
        client,
        len(rows),
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        sum(1 for r in rows if not 200 <= int(r["code"]) < 300),
        int(summary["scheduled"]) - int(summary["sent"]),
        lags[int(0.99 * (len(lags) - 1))] / 1e6 if lags else float("nan"),
    )


def cpu_part(url: str, work: Path, core: int, rates: list[float], short_s: float, long_s: float) -> None:
    print(
        f"\n3. client CPU per request (each client alone on core {core}, one process, ordinary priority, "
        f"{short_s:g} s and {long_s:g} s schedules; CPU = user + system s of the client process)"
    )
    print(
        f"{'rate/s':>7} {'client':>8} {'requests':>8} {'cpu s':>6} {'requests':>8} {'cpu s':>6} "
        f"{'start-up s':>10} {'s/1000 req':>10} {'errors':>6} {'not sent':>8} {'lag p99 ms':>10}"
    )
    ratios = []
    for rate in rates:
        runs: dict[str, list[ClientRun]] = {c: [] for c in CLIENTS}
        for duration in (short_s, long_s):
            for client in CLIENTS:  # interleaved, so both see the machine as it was
                runs[client].append(run_client(client, cpu_plan(url, rate, duration), work, core))
        per_k = {}
        for client, (short, long) in runs.items():
            per_k[client] = 1000 * (long.cpu_s - short.cpu_s) / (long.requests - short.requests)
            startup = short.cpu_s - short.requests * per_k[client] / 1000
            print(
                f"{rate:>7g} {client:>8} {short.requests:>8} {short.cpu_s:>6.2f} {long.requests:>8} "
                f"{long.cpu_s:>6.2f} {startup:>10.2f} {per_k[client]:>10.3f} "
                f"{short.errors + long.errors:>6} {short.not_sent + long.not_sent:>8} "
                f"{max(short.lag_p99_ms, long.lag_p99_ms):>10.3f}",
                flush=True,
            )
        ratios.append(f"{per_k['engine'] / per_k['aiohttp']:.2f} at {rate:g} req/s")
    print("   engine CPU per request / aiohttp's: " + ", ".join(ratios))


# --- the aiohttp client -------------------------------------------------------------------------
async def _aiohttp_client(plan: dict[str, Any], out: Any) -> dict[str, Any]:
    import aiohttp

    from kit.shipped.engine import COLUMNS, schedule

    target = plan["targets"][0]
    url, headers, body = target["url"], target["headers"], base64.b64decode(target["body_b64"])
    due = schedule(plan["phases"], plan["arrival"], int(plan["seed"]))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    connector = aiohttp.TCPConnector(limit=0)  # unbounded, as the engine's pool: open loop
    timeout = aiohttp.ClientTimeout(total=float(plan["timeout_s"]))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:

        async def exchange() -> tuple[int, int]:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as reply:
                return reply.status, len(await reply.read())

        async def fire(seq: int, phase: str, due_ns: int) -> None:
            sent_ns = time.perf_counter_ns()
            code, bytes_in, error = 0, 0, ""
            try:
                code, bytes_in = await exchange()
            except Exception as exc:  # every request gets its row, failures included
                error = type(exc).__name__
            writer.writerow(
                (phase, seq, due_ns, sent_ns, time.perf_counter_ns(), code, len(body), bytes_in, error)
            )

        await asyncio.gather(
            *(exchange() for _ in range(int(plan["warm_connections"]))), return_exceptions=True
        )
        tasks: set[asyncio.Task[None]] = set()
        t0 = time.perf_counter_ns() + 50_000_000
        for seq, (phase, offset) in enumerate(due):
            due_ns = t0 + int(offset * 1e9)
            wait = (due_ns - time.perf_counter_ns()) / 1e9
            if wait > 0:
                await asyncio.sleep(wait)
            task = asyncio.create_task(fire(seq, phase, due_ns))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=float(plan["drain_s"]))
    return {"scheduled": len(due), "sent": len(due)}


def main(argv: list[str]) -> None:
    import uvloop

    plan = json.loads(Path(argv[0]).read_text())
    with (
        open(argv[1], "w", newline="", buffering=1 << 16) as out,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,  # the engine's loop too
    ):
        summary = runner.run(_aiohttp_client(plan, out))
    print(json.dumps(summary))


if __name__ == "__main__" and sys.argv[1:2] == ["aiohttp"]:
    main(sys.argv[2:])
