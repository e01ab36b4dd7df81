"""The real engine (kit/shipped/engine.py) as a subprocess against a real aiohttp server on 127.0.0.1.

Rates and durations are small so that the file runs in about 20 s on a shared 2-core machine; the
bounds on send lag are loose for the same reason (the 1 ms rule is checked by the bench, per cell).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kit.load.engine_rows import rows_from_engine_csv
from kit.load.plan import Phase, Plan, Target, engine_path
from kit.results.schema import RAW_SCHEMA
from kit.shipped import engine

# /freeze/N: from the N-th request on that path, the server stops answering for 1 s; every request that
# arrives meanwhile waits for the end of the freeze (a GC pause, a stuck worker).
# /chunked answers in chunks, /close with Connection: close; /count/TAG records the client's port and
# /ports/TAG says how many distinct ports (connections) it saw. The raw server on the second port
# answers what aiohttp's server never would: a reply ended by closing (/eof), not HTTP (/garbage),
# cut short (/cut), 204 without a body (/nobody), and an interim 100 Continue first (/continue).
SERVER = r"""
import asyncio, collections, sys, time
from aiohttp import web

arrivals = collections.Counter()
frozen_until = {}
ports = collections.defaultdict(set)

async def chunked(request):
    await request.read()
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for part in (b"first,", b"second,", b"third"):
        await resp.write(part)
    await resp.write_eof()
    return resp

async def close(request):
    await request.read()
    return web.Response(text="bye", headers={"Connection": "close"})

async def count(request):
    await request.read()
    ports[request.match_info["tag"]].add(request.transport.get_extra_info("peername")[1])
    return web.Response(text="counted")

async def seen(request):
    return web.Response(text=str(len(ports[request.match_info["tag"]])))

RAW = {
    "/eof": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", True),
    "/garbage": (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", True),
    "/cut": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", True),
    "/nobody": (b"HTTP/1.1 204 No Content\r\n\r\n", False),
    "/continue": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
}

async def raw(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            length = [int(l.split(":")[1]) for l in lines if l.lower().startswith("content-length")]
            await reader.readexactly(length[0] if length else 0)
            reply, then_close = RAW[lines[0].split()[1]]
            writer.write(reply)
            await writer.drain()
            if then_close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def ok(request):
    await request.read()
    return web.Response(text='{"ok": true}')

async def fail(request):
    await request.read()
    return web.Response(status=500, text="boom")

async def slow(request):
    await request.read()
    await asyncio.sleep(float(request.match_info["s"]))
    return web.Response(text="late")

async def freeze(request):
    await request.read()
    path = request.path
    arrivals[path] += 1
    if arrivals[path] == int(request.match_info["n"]):
        frozen_until[path] = time.monotonic() + 1.0
    wait = frozen_until.get(path, 0.0) - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
    return web.Response(text="thawed")

async def main():
    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/fail", fail)
    app.router.add_post("/slow/{s}", slow)
    app.router.add_post("/freeze/{n}", freeze)
    app.router.add_post("/chunked", chunked)
    app.router.add_post("/close", close)
    app.router.add_post("/count/{tag}", count)
    app.router.add_get("/ports/{tag}", seen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    raw_server = await asyncio.start_server(raw, "127.0.0.1", 0)
    print(site._server.sockets[0].getsockname()[1], raw_server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    script = tmp_path_factory.mktemp("srv") / "server.py"
    script.write_text(SERVER)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ports = proc.stdout.readline().split()  # the servers bind port 0 and say which ones they got
    assert len(ports) == 2 and all(p.isdigit() for p in ports), "the test server did not start"
    yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(servers: tuple[str, str]) -> str:
    return servers[0]


@pytest.fixture(scope="module")
def raw_server(servers: tuple[str, str]) -> str:
    return servers[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_plan(urls: str | list[str], rate: float, duration: float, warmup: float = 0.0, **kw: Any) -> Plan:
    phases = [Phase("warmup", rate, warmup)] if warmup else []
    targets = [
        Target("POST", u, {"Content-Type": "application/json"}, b'{"x": 1}')
        for u in ([urls] if isinstance(urls, str) else urls)
    ]
    return Plan(targets=targets, phases=[*phases, Phase("measure", rate, duration)], **kw)


def start(p: Plan, tmp_path: Path, *prefix: str) -> tuple[subprocess.Popen[str], Path]:
    plan_file, out = tmp_path / "plan.json", tmp_path / "out.csv"
    plan_file.write_text(p.to_json())
    cmd = [*(prefix or (sys.executable,)), str(engine_path()), str(plan_file), str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out


def finish(
    proc: subprocess.Popen[str], out: Path, rc: int = 0
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == rc, stderr
    with out.open() as fh:
        rows = [
            {k: v if k in ("phase", "error") else int(v) for k, v in r.items()} for r in csv.DictReader(fh)
        ]
    return sorted(rows, key=lambda r: r["seq"]), json.loads(stdout.strip().splitlines()[-1])


def run(p: Plan, tmp_path: Path, *prefix: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return finish(*start(p, tmp_path, *prefix))


def started(out: Path, then: float) -> None:
    """Wait until the engine has opened its CSV (imports done, schedule built), then `then` seconds more."""
    deadline = time.monotonic() + 20
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(then)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- pure parts ---------------------------------------------------------------------------------
def test_constant_schedule_runs_the_phases_back_to_back() -> None:
    phases = [
        {"name": "warmup", "rate": 10, "duration_s": 1},
        {"name": "measure", "rate": 20, "duration_s": 2},
    ]
    sched = engine.schedule(phases, "constant", 0)
    assert len(sched) == 50 and sched[9] == ("warmup", 0.9) and sched[10] == ("measure", 1.0)
    assert sched[11][1] == pytest.approx(1.05)


def test_poisson_schedule_is_seeded() -> None:
    phases = [{"name": "measure", "rate": 100, "duration_s": 5}]
    a, b = engine.schedule(phases, "poisson", 7), engine.schedule(phases, "poisson", 7)
    assert a == b != engine.schedule(phases, "poisson", 8)
    assert 400 < len(a) < 600 and all(0 < t < 5 for _, t in a)
    gaps = [y - x for (_, x), (_, y) in itertools.pairwise(a)]
    assert 0.008 < sum(gaps) / len(gaps) < 0.012 and max(gaps) > 3 * min(gaps)


# --- the engine against a server ----------------------------------------------------------------
def test_constant_rate_sends_every_request_on_schedule(server: str, tmp_path: Path) -> None:
    rows, summary = run(make_plan(f"{server}/ok", 200, 1.5, warmup=0.5), tmp_path)
    assert [r["seq"] for r in rows] == list(range(400))  # unique, and continued across the phases
    assert [r["phase"] for r in rows] == ["warmup"] * 100 + ["measure"] * 300
    gaps = {b["intended_ns"] - a["intended_ns"] for a, b in itertools.pairwise(rows)}
    assert gaps <= {4_999_999, 5_000_000, 5_000_001}  # 1/rate, to the nanosecond
    assert all(r["done_ns"] >= r["sent_ns"] >= r["intended_ns"] and r["code"] == 200 for r in rows)
    assert rows[0]["bytes_out"] == 8 and rows[0]["bytes_in"] == 12 and rows[0]["error"] == ""
    measure = summary["per_phase"]["measure"]
    assert (summary["scheduled"], summary["sent"], summary["not_sent"], summary["errors"]) == (400, 400, 0, 0)
    assert (measure["scheduled"], measure["sent"]) == (300, 300)
    assert measure["achieved_rate"] == pytest.approx(200, rel=0.01)
    assert measure["send_lag_p99_ms"] < 10 and summary["interrupted"] is False


def test_poisson_with_the_same_seed_sends_the_same_schedule(server: str, tmp_path: Path) -> None:
    def offsets(seed: int, sub: str) -> list[int]:
        (tmp_path / sub).mkdir()
        rows, _ = run(make_plan(f"{server}/ok", 300, 0.5, arrival="poisson", seed=seed), tmp_path / sub)
        return [r["intended_ns"] - rows[0]["intended_ns"] for r in rows]

    first, again = offsets(11, "a"), offsets(11, "b")
    assert first == again and len(first) > 100
    assert len({b - a for a, b in itertools.pairwise(first)}) > 100  # not a constant spacing


def test_a_stall_shows_in_the_tail_and_does_not_hold_sends_back(server: str, tmp_path: Path) -> None:
    """Open loop: requests keep leaving during a 1 s freeze, and carry their wait in their latency."""
    rows, summary = run(make_plan(f"{server}/freeze/100", 100, 3.0), tmp_path)
    latency_s = [(r["done_ns"] - r["intended_ns"]) / 1e9 for r in rows]
    lag_ms = [(r["sent_ns"] - r["intended_ns"]) / 1e6 for r in rows]
    assert len(rows) == 300 and summary["not_sent"] == 0
    assert 0.9 < quantile(latency_s, 0.99) < 1.3 and quantile(latency_s, 0.5) < 0.1
    assert 35 < sum(lat > 0.5 for lat in latency_s) < 65  # the ~half of the freeze's 100 that waited > 0.5 s
    assert quantile(lag_ms, 0.99) < 10


def test_refused_connections_are_code_zero_rows(tmp_path: Path) -> None:
    rows, summary = run(make_plan(f"http://127.0.0.1:{closed_port()}/ok", 100, 0.5, timeout_s=2), tmp_path)
    assert len(rows) == 50 and {r["code"] for r in rows} == {0}
    assert summary["errors"] == summary["completed"] == 50
    assert all("Cannot connect" in r["error"] for r in rows)


def test_http_errors_keep_their_status_and_body(server: str, tmp_path: Path) -> None:
    rows, summary = run(make_plan(f"{server}/fail", 50, 0.3), tmp_path)
    assert {(r["code"], r["error"]) for r in rows} == {(500, "boom")} and summary["errors"] == len(rows) == 15


def test_timeouts_are_code_zero_rows(server: str, tmp_path: Path) -> None:
    rows, _ = run(make_plan(f"{server}/slow/2", 20, 0.25, timeout_s=0.3, warm_connections=0), tmp_path)
    assert len(rows) == 5 and {(r["code"], r["error"]) for r in rows} == {(0, "timeout after 0.3s")}
    assert all(0.29e9 < r["done_ns"] - r["sent_ns"] < 1e9 for r in rows)


def test_requests_still_out_after_the_drain_are_rows(server: str, tmp_path: Path) -> None:
    began = time.monotonic()
    rows, summary = run(make_plan(f"{server}/slow/5", 20, 0.25, drain_s=0.3, warm_connections=0), tmp_path)
    assert time.monotonic() - began < 4
    assert len(rows) == 5 and {(r["code"], r["error"]) for r in rows} == {(0, "unfinished at drain")}
    assert summary["unfinished"] == 5 and summary["interrupted"] is False


def test_targets_are_cycled_in_order_and_rows_conform_to_the_raw_schema(server: str, tmp_path: Path) -> None:
    p = make_plan([f"{server}/ok", f"{server}/fail"], 40, 0.5, warmup=0.25)
    run(p, tmp_path)
    df = rows_from_engine_csv(
        tmp_path / "out.csv",
        run_id="r1",
        framework="mlserver",
        scenario="malware",
        payload="small",
        rate=40,
        rep=2,
    )
    assert df.schema == pl.Schema(RAW_SCHEMA) and df.height == 30
    assert df["seq"].to_list() == list(range(30)) and df["code"].to_list() == [200, 500] * 15
    assert df.filter(pl.col("code") == 200)["error"].null_count() == 15
    assert set(df.filter(pl.col("code") == 500)["error"]) == {"boom"}
    assert (df["latency_ns"] == df["done_ns"] - df["intended_ns"]).all()
    assert (df["service_ns"] == df["done_ns"] - df["sent_ns"]).all()
    assert df["phase"].value_counts().sort("phase").rows() == [("measure", 20), ("warmup", 10)]


def test_runs_without_uvloop_and_without_keepalive(server: str, tmp_path: Path) -> None:
    """The client host may lack uvloop: the engine falls back to asyncio's loop."""
    no_uvloop = "import runpy, sys; sys.modules['uvloop'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    rows, summary = run(
        make_plan(f"{server}/ok", 100, 0.3, keepalive=False), tmp_path, sys.executable, "-c", no_uvloop
    )
    assert summary["loop"] == "asyncio" and len(rows) == 30 and {r["code"] for r in rows} == {200}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_flushes_rows_and_counts_the_unsent(
    server: str, tmp_path: Path, sig: signal.Signals
) -> None:
    proc, out = start(make_plan(f"{server}/ok", 100, 10, warmup=0.5), tmp_path)
    started(out, then=1.2)
    proc.send_signal(sig)
    rows, summary = finish(proc, out, rc=130)
    assert summary["interrupted"] is True and 0 < summary["sent"] < summary["scheduled"] == 1050
    assert summary["not_sent"] == summary["scheduled"] - summary["sent"]
    assert len(rows) == summary["completed"] == summary["sent"] and {r["code"] for r in rows} == {200}
    assert summary["per_phase"]["measure"]["not_sent"] == summary["not_sent"]


def test_a_signal_during_the_drain_cuts_it_short(server: str, tmp_path: Path) -> None:
    proc, out = start(make_plan(f"{server}/slow/5", 20, 0.25, drain_s=30, warm_connections=0), tmp_path)
    started(out, then=1.0)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rows, summary = finish(proc, out, rc=130)
    assert time.monotonic() - began < 3 and summary["not_sent"] == 0
    assert len(rows) == 5 and {(r["code"], r["error"]) for r in rows} == {(0, "unfinished at interrupt")}


def test_a_plan_it_cannot_run_exits_2(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text('{"targets": [], "phases": []}')
    res = subprocess.run(
        [sys.executable, str(engine_path()), str(tmp_path / "plan.json"), str(tmp_path / "out.csv")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and "cannot run this plan" in res.stderr


def test_a_signal_before_t0_leaves_a_header_and_counts_everything_unsent(server: str, tmp_path: Path) -> None:
    proc, out = start(make_plan(f"{server}/slow/5", 50, 2, warm_connections=2), tmp_path)  # warming hangs
    started(out, then=0.5)
    proc.send_signal(signal.SIGINT)
    rows, summary = finish(proc, out, rc=130)
    assert rows == [] and out.read_text().splitlines() == [",".join(engine.COLUMNS)]
    assert (summary["sent"], summary["not_sent"], summary["interrupted"]) == (0, 100, True)


# --- the engine's own HTTP client against replies of every shape ------------------------------------
def run_capturing(p: Plan, tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    proc, out = start(p, tmp_path)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    with out.open() as fh:
        rows = [
            {k: v if k in ("phase", "error") else int(v) for k, v in r.items()} for r in csv.DictReader(fh)
        ]
    return sorted(rows, key=lambda r: r["seq"]), json.loads(stdout.strip().splitlines()[-1]), stderr


def distinct_ports(server: str, tag: str) -> int:
    with urllib.request.urlopen(f"{server}/ports/{tag}", timeout=10) as resp:
        return int(resp.read())


def test_chunked_replies_are_read_whole(server: str, tmp_path: Path) -> None:
    rows, _ = run(make_plan(f"{server}/chunked", 40, 0.25), tmp_path)
    assert len(rows) == 10 and {(r["code"], r["bytes_in"], r["error"]) for r in rows} == {(200, 18, "")}


def test_connection_close_replies_are_not_reused(server: str, tmp_path: Path) -> None:
    rows, _ = run(make_plan(f"{server}/close", 40, 0.25), tmp_path)
    assert len(rows) == 10 and {(r["code"], r["bytes_in"]) for r in rows} == {(200, 3)}


@pytest.mark.parametrize(("keepalive", "tag"), [(True, "kept"), (False, "fresh")])
def test_keepalive_reuses_connections_and_its_absence_opens_one_per_request(
    server: str, tmp_path: Path, keepalive: bool, tag: str
) -> None:
    rows, _ = run(make_plan(f"{server}/count/{tag}", 50, 0.6, keepalive=keepalive), tmp_path)
    assert len(rows) == 30 and {r["code"] for r in rows} == {200}
    ports = distinct_ports(server, tag)
    if keepalive:
        assert ports <= 4 + 2  # the warmed connections, and perhaps one more when two overlap
    else:
        assert ports == 30  # warming is skipped without keep-alive: every request its own connection


@pytest.mark.parametrize(
    ("path", "code", "bytes_in", "error"),
    [
        ("/eof", 200, 13, ""),
        ("/nobody", 204, 0, ""),
        ("/continue", 200, 2, ""),
        ("/garbage", 0, 0, "not an HTTP/1.x reply: 'SSH-2.0-OpenSSH_9.2'"),
        ("/cut", 0, 0, "server closed the connection before its reply ended"),
    ],
)
def test_replies_the_aiohttp_server_never_sends(
    raw_server: str, tmp_path: Path, path: str, code: int, bytes_in: int, error: str
) -> None:
    rows, summary = run(make_plan(f"{raw_server}{path}", 40, 0.25, warm_connections=0), tmp_path)
    assert len(rows) == 10 and {(r["code"], r["bytes_in"], r["error"]) for r in rows} == {
        (code, bytes_in, error)
    }
    assert summary["errors"] == (10 if code == 0 else 0)


def test_the_start_is_announced_on_stderr_before_the_first_send(server: str, tmp_path: Path) -> None:
    rows, summary, stderr = run_capturing(make_plan(f"{server}/ok", 100, 0.3, warmup=0.2), tmp_path)
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["start"] and events[0]["t0_ns"] == summary["t0_ns"]
    assert rows[0]["intended_ns"] == summary["t0_ns"] and rows[0]["sent_ns"] >= summary["t0_ns"]
    assert summary["processes"] == 1 and summary["cpu_s"] > 0


def test_uvicorn_as_the_frameworks_serve_it(tmp_path: Path) -> None:
    """MLServer, MLflow and BentoML answer through uvicorn: Content-Length replies and chunked streams."""
    pytest.importorskip("uvicorn")
    app = tmp_path / "asgi_app.py"
    app.write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    while (await receive()).get('more_body'):\n"
        "        pass\n"
        "    stream = scope['path'] == '/stream'\n"
        "    headers = [(b'content-type', b'application/json')]\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': headers})\n"
        "    if stream:\n"
        "        await send({'type': 'http.response.body', 'body': b'[1,', 'more_body': True})\n"
        "    await send({'type': 'http.response.body', 'body': b'2]'})\n"
    )
    port = closed_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "asgi_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        rows, _ = run(make_plan([f"{base}/infer", f"{base}/stream"], 100, 0.4), tmp_path)
        assert len(rows) == 40 and {r["code"] for r in rows} == {200}
        assert [r["bytes_in"] for r in rows[:4]] == [2, 5, 2, 5]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- several processes ----------------------------------------------------------------------------
def test_processes_follow_the_rate_up_to_the_cores() -> None:
    plan = {"phases": [{"name": "warmup", "rate": 100}, {"name": "measure", "rate": 4500}]}
    assert engine.processes_for({**plan, "processes": 0}, cores=8) == 3  # 4,500 / 2,000, rounded up
    assert engine.processes_for({**plan, "processes": 0}, cores=2) == 2
    assert engine.processes_for({"phases": [{"name": "m", "rate": 50}], "processes": 0}, cores=4) == 1
    assert engine.processes_for({**plan, "processes": 5}, cores=2) == 5  # an explicit count is obeyed
    assert engine.processes_for(plan, cores=8) == 1  # a plan without the key: one process, as before


def test_workers_share_one_schedule_and_their_rows_merge_by_time(server: str, tmp_path: Path) -> None:
    rows, summary = run(make_plan(f"{server}/ok", 200, 1.0, warmup=0.5, processes=2), tmp_path)
    assert summary["processes"] == 2 and (summary["scheduled"], summary["sent"], summary["not_sent"]) == (
        300,
        300,
        0,
    )
    assert [r["seq"] for r in rows] == list(range(300))
    gaps = {b["intended_ns"] - a["intended_ns"] for a, b in itertools.pairwise(rows)}
    assert gaps <= {4_999_999, 5_000_000, 5_000_001}  # one t0 and one epoch anchor for both workers
    text = (tmp_path / "out.csv").read_text().splitlines()
    intended = [int(line.split(",")[2]) for line in text[1:]]
    assert intended == sorted(intended) and text[0] == ",".join(engine.COLUMNS)
    assert not list(tmp_path.glob("out.csv.part*"))  # the workers' own files are merged, then removed
    measure = summary["per_phase"]["measure"]
    assert (measure["scheduled"], measure["sent"]) == (200, 200)
    assert measure["achieved_rate"] == pytest.approx(200, rel=0.01)
    assert {r["phase"] for r in rows[:100]} == {"warmup"} and {r["code"] for r in rows} == {200}


def test_a_signal_to_the_coordinator_reaches_every_worker(server: str, tmp_path: Path) -> None:
    proc, out = start(make_plan(f"{server}/ok", 100, 10, processes=2), tmp_path)
    started(out.with_name("out.csv.part1"), then=1.5)  # OUT.csv itself is written when merging
    proc.send_signal(signal.SIGINT)
    rows, summary = finish(proc, out, rc=130)
    assert summary["interrupted"] is True and summary["processes"] == 2
    assert 0 < summary["sent"] < summary["scheduled"] == 1000
    assert (
        summary["not_sent"]
        == summary["scheduled"] - summary["sent"]
        == summary["per_phase"]["measure"]["not_sent"]
    )
    assert len(rows) == summary["completed"] == summary["sent"] and {r["code"] for r in rows} == {200}


def test_merge_rows_orders_by_intended_time_then_seq(tmp_path: Path) -> None:
    header = ",".join(engine.COLUMNS) + "\n"
    (tmp_path / "a").write_text(header + "measure,2,30,31,40,200,1,1,\nmeasure,0,10,11,20,200,1,1,\n")
    (tmp_path / "b").write_text(header + "measure,1,20,21,90,0,1,0,timeout after 1s\nmeasure,3,30,32,")
    out = io.StringIO()
    rows = engine.merge_rows([str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "absent")], out)
    assert [r[1] for r in rows] == ["0", "1", "2"]  # the cut-off last line of b is left out
    assert out.getvalue().splitlines()[2] == "measure,1,20,21,90,0,1,0,timeout after 1s"


def test_phase_validity_follows_the_gates() -> None:
    def stats(lag_us: int, sent: int) -> dict[str, Any]:
        p = engine.PhaseStats("measure", 100.0, 0, 1_000_000_000, scheduled=100, sent=sent)
        p.lags_ns.extend([lag_us * 1000] * sent)
        p.last_sent_ns = 990_000_000
        return p.report(0, None)

    assert stats(200, 100)["valid"] is True and stats(200, 100)["invalid_reason"] == ""
    assert stats(1500, 100)["invalid_reason"] == (
        "send-lag 1.5 ms (second-worst of 100 sends) > 1 ms: the client was the bottleneck"
    )
    short = stats(200, 90)
    assert short["valid"] is False and short["not_sent"] == 10
    assert short["invalid_reason"] == (
        "achieved rate 90.0 req/s < 99% of the 100.0 req/s scheduled: the client was the bottleneck"
    )


def test_a_lagging_client_at_2000_req_s_is_invalid_however_few_its_hiccups() -> None:
    """Where the lag is comparable to the latency (a 2 ms server), the lag allowance is the 1 ms floor:
    2 % of 2,000 sends 1.4 ms late is invalid, one 5 ms hiccup among them is not."""

    def stats(lags_us: list[int]) -> dict[str, Any]:
        p = engine.PhaseStats("measure", 2000.0, 0, 1_000_000_000, scheduled=2000, sent=2000)
        for lag in lags_us:
            p.lags_ns.append(lag * 1000)
            p.finished(lag * 1000 + 2_000_000, 2_000_000)
        p.last_sent_ns = 999_600_000
        return p.report(0, None)

    lagging = stats([1400 if i % 50 == 0 else 100 for i in range(2000)])
    assert lagging["invalid_reason"] == "send-lag p99 1.4 ms > 1 ms: the client was the bottleneck"
    assert stats([5000 if i == 700 else 100 for i in range(2000)])["valid"] is True


def samples(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "out.csv.samples.jsonl").read_text().splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda s: s["seq"])


@pytest.mark.parametrize("processes", [1, 2])
def test_every_nth_measured_reply_keeps_its_body(server: str, tmp_path: Path, processes: int) -> None:
    p = make_plan(
        [f"{server}/ok", f"{server}/fail"], 100, 1.0, warmup=0.2, sample_every=10, processes=processes
    )
    rows, _ = run(p, tmp_path)
    measured = [r["seq"] for r in rows if r["phase"] == "measure"]
    got = samples(tmp_path)
    # seq 20, 30, ... of the measured phase (the warm-up's 0 and 10 are not sampled); even seqs go to /ok
    assert [s["seq"] for s in got] == [q for q in measured if q % 10 == 0]
    assert {(s["code"], base64.b64decode(s["body_b64"])) for s in got} == {(200, b'{"ok": true}')}
    assert not any(s["truncated"] for s in got)
    assert not list(tmp_path.glob("out.csv.part*"))  # the workers' own sample files are merged, then removed


def test_no_samples_are_kept_unless_asked(server: str, tmp_path: Path) -> None:
    run(make_plan(f"{server}/ok", 100, 0.3), tmp_path)
    assert not (tmp_path / "out.csv.samples.jsonl").exists()
