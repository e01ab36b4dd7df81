"""Per framework, on the hosts `kit up` made: install time from the wheelhouse, start-up to healthy,
and resident memory at idle with every deployed scenario loaded.

Run with an environment up and models deployed (`kit up`, `kit deploy FRAMEWORK SCENARIO`...):
    .venv/bin/python benchmarks/frameworks.py [FRAMEWORK ...]

- install: a fresh virtualenv on the host, then `pip install --no-index` of the role's lock from
  the shared wheelhouse (what the role does on a new host), timed on the host.
- start-up: `systemctl restart`, then the health URL polled every 0.2 s from the host itself.
- memory: the unit's cgroup memory (MemoryCurrent) once healthy and idle for 5 s.
"""

from __future__ import annotations

import sys

from kit import deploy
from kit.config import Config
from kit.context import Context
from kit.frameworks import FRAMEWORKS

HEALTH = {
    "torchserve": "/ping",
    "mlserver": "/v2/health/ready",
    "mlflow": "/ping",
    "bentoml": "/readyz",
    "tfserving": "/v1/models",
}
VENV = {"torchserve": "torchserve", "mlserver": "mlserver", "mlflow": "mlflow", "bentoml": "bentoml"}


def measure(ctx: Context, fw: str) -> str:
    ssh, server = ctx.ssh, ctx.hosts.server(fw)
    reason = deploy.unavailable(ctx, fw)
    if reason:
        return f"{fw:<11} skipped: {reason[:80]}"
    install = _seconds(
        ssh.run(
            server,
            (
                "rm -rf /tmp/kit-bench-venv; s=$(date +%s%N); python3 -m venv /tmp/kit-bench-venv && "
                f"/tmp/kit-bench-venv/bin/pip install -q --no-index --find-links /opt/wheels/{VENV[fw]} "
                f"-r /opt/wheels/{VENV[fw]}/requirements.lock; e=$(date +%s%N); rm -rf /tmp/kit-bench-venv; "
                "echo $(( (e - s) / 1000000 ))"
            ),
            timeout=1800,
            what="timing an install",
        ).stdout
    )
    url = f"http://{server.private_ip}:{FRAMEWORKS[fw].port}{HEALTH[fw]}"
    startup = _seconds(
        ssh.run(
            server,
            (
                f"s=$(date +%s%N); systemctl restart {fw}; "
                f"until curl -sf -o /dev/null {url}; do sleep 0.2; done; "
                "e=$(date +%s%N); echo $(( (e - s) / 1000000 ))"
            ),
            timeout=600,
            what="timing a start-up",
        ).stdout
    )
    memory = ssh.run(
        server, f"sleep 5; systemctl show {fw} -p MemoryCurrent --value", timeout=60, what="reading memory"
    ).stdout.strip()
    mib = int(memory) / 2**20 if memory.isdigit() else float("nan")
    return f"{fw:<11} install {install:6.1f} s   start-up {startup:5.1f} s   idle memory {mib:7.0f} MiB"


def _seconds(ms: str) -> float:
    return int(ms.strip().splitlines()[-1]) / 1000


def main(ids: list[str]) -> None:
    ctx = Context(Config())
    for fw in ids:
        print(measure(ctx, fw), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(FRAMEWORKS))
