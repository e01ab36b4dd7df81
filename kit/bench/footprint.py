"""Cold start and footprint of one framework x scenario. The study measures it last in each
scenario, after the common pass, so that no measured cell follows a cold start.

- Cold start: the time from starting the framework's service, its model deployed, to its first
  correct prediction, `cold_starts` times (stop, start, wait).
- Footprint: the service's resident memory after load and its CPU at idle, from the kit's own
  sampler over `idle_s` seconds with no load.

The clock runs on the server host: one shell there stops the unit, reads the clock, starts the unit
and sends the scenario's parity request with curl every 0.1 s until a 2xx reply, so the controller's
SSH round trips do not count. The first 2xx reply is then parity-checked here: a start whose first
answer is wrong is recorded as such, never timed as a cold start. A service that gives no 2xx within
`recover_s` is a server gone (recovery.ServerGone): recorded with why, and the service restarted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kit import deploy, frameworks, scenarios, shipped
from kit.bench.recovery import ServerGone
from kit.bench.run import Run
from kit.bench.sweep import Step
from kit.config import BenchSettings
from kit.context import Context, Progress
from kit.errors import KitError
from kit.provision.inventory import Host
from kit.results import stats
from kit.ssh import as_root, q
from kit.telemetry import remote_sampler

REMOTE_DIR = "/var/tmp/kit-footprint"
MB = 1024 * 1024

#: $1 unit, $2 URL, $3 content type, $4 request body file, $5 limit (s), $6 reply file. Prints
#: "<http code> <ms from start to that reply>", or "<last code> timeout" and exits 3.
START_SCRIPT = r"""
unit=$1; url=$2; ctype=$3; body=$4; limit=$5; out=$6
systemctl stop "$unit" || exit 4
t0=$(date +%s%N)
systemctl start "$unit" || exit 5
while :; do
  code=$(curl -s -o "$out" -w '%{http_code}' -m 5 -H "Content-Type: $ctype" --data-binary @"$body" "$url")
  now=$(date +%s%N)
  case "$code" in 2??) echo "$code $(( (now - t0) / 1000000 ))"; exit 0;; esac
  if [ $(( (now - t0) / 1000000000 )) -ge "$limit" ]; then echo "${code:-000} timeout"; exit 3; fi
  sleep 0.1
done
"""


def measure(
    ctx: Context,
    framework: str,
    scenario: str,
    built: scenarios.BuildResult,
    settings: BenchSettings,
    progress: Progress,
) -> dict[str, Any]:
    """{"cold_start_s": [...], "starts": [...], "rss_after_load_mb", "rss_idle_mb", "idle_cpu_pct",
    "idle_s", "why"}: the footprint record of the study's pair (docs/design.md section 4)."""
    server = ctx.hosts.server(framework)
    unit = frameworks.get(framework).service
    scn = scenarios.get(scenario)
    path, body, content_type = scenarios.parity_request(scn, framework, ctx.cfg.seed)
    url = f"http://{server.private_ip}:{frameworks.get(framework).port}{path}"
    body_file, reply_file = f"{REMOTE_DIR}/{framework}-{scenario}.body", f"{REMOTE_DIR}/reply"
    # In /var/tmp as the SSH user (as the telemetry's folder): only the start itself needs root.
    ctx.ssh.run(server, f"mkdir -p {REMOTE_DIR}", timeout=30, what="footprint folder")
    ctx.ssh.run(
        server,
        f"cat > {q(body_file)}",
        input=body.decode(),
        timeout=30,
        what="the parity request",
    )
    limit = max(1, int(settings.recover_s))
    args = " ".join(q(a) for a in (unit, url, content_type, body_file, str(limit), reply_file))
    starts: list[dict[str, Any]] = []
    for k in range(settings.cold_starts):
        progress(f"cold start {k + 1}/{settings.cold_starts} of {framework}/{scenario}")
        res = ctx.ssh.run(
            server,
            as_root(server, f"sh -c {q(START_SCRIPT)} start {args}"),
            timeout=limit + 60,
            what=f"a cold start of {unit}",
            check=False,
        )
        start = timed_start(res.returncode, res.stdout, limit)
        if start.get("seconds") is not None:
            reply = ctx.ssh.run(server, f"cat {q(reply_file)}", timeout=30, what="the first reply").stdout
            try:
                scenarios.check_parity(scn, framework, built, ctx.cfg.seed, reply)
            except KitError as exc:
                start = {**start, "correct": False, "why": f"its first 2xx reply was wrong: {exc.what}"}
        starts.append(start)
        if not start.get("correct"):
            why = start["why"]
            raise ServerGone(
                f"{framework}/{scenario} did not serve a correct prediction after a cold start: {why}",
                f"Check it with `kit status` and its log on {server.name}; then `kit bench all --resume`",
            )
    return {**summarize(starts), **idle(ctx, server, framework, settings.idle_s)}


def timed_start(returncode: int, stdout: str, limit: int) -> dict[str, Any]:
    """One start's record from START_SCRIPT's exit and line."""
    words = (stdout.strip().splitlines() or [""])[-1].split()
    if returncode == 0 and len(words) == 2 and words[1].isdigit():
        return {"seconds": int(words[1]) / 1000, "correct": True, "why": ""}
    if returncode == 3:
        last = words[0] if words else "none"
        return {
            "seconds": None,
            "correct": False,
            "why": f"no 2xx reply within {limit} s (last HTTP code {last})",
        }
    steps = {4: "systemctl stop failed", 5: "systemctl start failed"}
    return {
        "seconds": None,
        "correct": False,
        "why": steps.get(returncode, f"exit {returncode}: {stdout[-200:]}"),
    }


def summarize(starts: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [s["seconds"] for s in starts if s.get("correct") and s.get("seconds") is not None]
    mean, lo, hi = stats.mean_ci(seconds) if seconds else (None, None, None)
    return {
        "cold_start_s": seconds,
        "cold_start_mean_s": mean,
        "cold_start_lo_s": lo,
        "cold_start_hi_s": hi,
        "starts": starts,
    }


def idle(ctx: Context, server: Host, framework: str, idle_s: float) -> dict[str, Any]:
    """The unit's resident memory (first sample: after load; mean: at idle) and CPU at idle, from the
    kit's sampler run in the foreground for `idle_s` seconds with no load, on the scope the cells'
    telemetry samples (the framework's whole unit)."""
    out = f"{REMOTE_DIR}/idle.jsonl"
    ctx.ssh.run(server, f"mkdir -p {REMOTE_DIR}", timeout=30, what="footprint folder")
    ctx.ssh.put(server, shipped.SAMPLER, f"{REMOTE_DIR}/sampler.py")
    scope = " ".join(q(a) for a in remote_sampler.scope_for("server", framework))
    command = f"python3 {REMOTE_DIR}/sampler.py --out {out} --interval 1 --max-s {idle_s:g} {scope} --no-gpu"
    ctx.ssh.run(server, command, timeout=idle_s + 60, what="sampling the idle server", check=False)
    text = ctx.ssh.run(server, f"cat {out}", timeout=30, what="the idle samples", check=False).stdout
    return idle_figures(text, idle_s)


def idle_figures(text: str, idle_s: float) -> dict[str, Any]:
    """The footprint's memory and CPU from the sampler's JSON lines (its start line skipped)."""
    samples = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the sampler's end
        # A sample of no process is no figure (the scope found nothing), not a footprint of zero.
        if isinstance(row, dict) and "ts_ns" in row and row.get("procs") != 0:
            samples.append(row)
    rss = [s["rss_bytes"] / MB for s in samples if s.get("rss_bytes") is not None]
    cpu = [s["cpu_pct"] for s in samples if s.get("cpu_pct") is not None]
    return {
        "rss_after_load_mb": rss[0] if rss else None,
        "rss_idle_mb": sum(rss) / len(rss) if rss else None,
        "idle_cpu_pct": sum(cpu) / len(cpu) if cpu else None,
        "idle_s": idle_s,
        "idle_samples": len(samples),
    }


#: Capacity outcomes of a pair whose framework never served here: no footprint to measure.
NOT_SERVED = ("skipped", "failed")


@dataclass
class Footprint:
    """The footprint of a study pair as measure_pair's Work: its model is served (deployed and
    parity-checked) first, then it is measured and recorded under `footprints` and in each of the
    pair's payload records; a resumed study keeps it."""

    ctx: Context
    run: Run
    pair: tuple[str, str]
    settings: BenchSettings
    progress: Progress
    stage: str = ":footprint"

    @staticmethod
    def done(run: Run, pair: tuple[str, str], settings: BenchSettings) -> bool:
        """Nothing to measure: no cold starts asked, recorded already, or a framework that never
        served the pair (skipped, or its deploy failed)."""
        study = run.study()
        entries = [(study.get("pairs") or {}).get("/".join((*pair, p))) or {} for p in settings.payloads]
        served = any((e.get("capacity") or {}).get("outcome") not in NOT_SERVED for e in entries if e)
        return not settings.cold_starts or "/".join(pair) in (study.get("footprints") or {}) or not served

    def nothing_left(self, run: Run) -> bool:
        return self.done(run, self.pair, self.settings)

    def measure(self, step: Step) -> None:
        built = deploy.build(self.ctx, self.pair[1])
        record(
            self.run,
            self.pair,
            self.settings,
            measure(self.ctx, *self.pair, built, self.settings, self.progress),
        )

    def unrun(self, run: Run, status: str, reason: str) -> None:
        record(
            run, self.pair, self.settings, {"cold_start_s": [], "starts": [], "why": f"{status}: {reason}"}
        )


def record(run: Run, pair: tuple[str, str], settings: BenchSettings, foot: dict[str, Any]) -> None:
    run.record_study("footprints", "/".join(pair), foot)
    pairs = run.study().get("pairs") or {}
    for payload in settings.payloads:
        name = "/".join((*pair, payload))
        if name in pairs:
            run.record_study("pairs", name, {**pairs[name], "footprint": foot})
