"""benchmarks/client_cpu.py: both clients run for real against a local HTTP/1.1 server, and each
one's CPU is its own process's (the figure the README quotes rests on this)."""

from __future__ import annotations

import csv
import importlib.util
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from kit.shipped.engine import COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def load_client_cpu() -> ModuleType:
    spec = importlib.util.spec_from_file_location("client_cpu", ROOT / "benchmarks" / "client_cpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx in the benchmark

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ok"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("client", ["engine", "aiohttp"])
def test_each_client_sends_the_schedule_and_is_charged_its_own_cpu(
    client: str, url: str, tmp_path: Path
) -> None:
    client_cpu = load_client_cpu()
    run = client_cpu.run_client(client, client_cpu.cpu_plan(url, rate=100, duration=1.0), tmp_path, core=0)
    assert (run.client, run.requests, run.errors, run.not_sent) == (client, 100, 0, 0)
    # The child's CPU, not this process's: above the interpreter's start-up, below the wall time.
    assert 0.05 < run.cpu_s < 5
    with (tmp_path / f"cpu-{client}.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS and sorted(int(r["seq"]) for r in rows) == list(range(100))
    assert {r["code"] for r in rows} == {"200"}
