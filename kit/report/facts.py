"""The report's first paragraph: the facts of a run a reader needs before any figure (provider, kit,
config, parts measured on different days, services restarted between pairs, shaped links)."""

from __future__ import annotations

from typing import Any

from kit.results import resume
from kit.results.analysis import RunData


def run_facts(data: RunData) -> str:
    man = data.manifest
    if man is None:
        return (
            f"No readable manifest: run facts are unknown; figures come from the raw rows of {data.run_dir}."
        )
    facts = (
        f"Provider {man['provider']}, kit {man['kit_version']} (git {man['git_sha'][:12]}), "
        f"config hash {man['config_hash']}, created {man['created_at']}."
    )
    parts = man.get("parts") or []
    if len(parts) > 1:
        facts += f" Measured in {len(parts)} parts (`kit bench all --resume`): " + "; ".join(
            f"part {k} from {p.get('started_at', '?')} (git {str(p.get('git_sha', '?'))[:12]})"
            for k, p in enumerate(parts)
        )
        changed = resume.changed_facts(man)
        facts += (
            ". Hosts' facts changed between parts: " + "; ".join(changed) + "."
            if changed
            else "; the hosts' facts (CPU, cores, memory, kernel, OS, Python, link) were the same in "
            "every part."
        )
    restarts = man.get("restarts") or []
    if restarts:
        facts += (
            " Framework services the kit restarted between pairs because their server stopped serving, "
            "was left overloaded or failed, or its deploy failed (the cells after a restart ran on a fresh "
            "process): "
            + "; ".join(
                f"{r['framework']} on {r['host']} after {r['after']} at {r['at']}: {r['outcome']}"
                + restart_steps(r.get("steps") or [])
                for r in restarts
            )
            + "."
        )
    shaped = shaped_links(man.get("hosts") or {})
    if shaped:
        facts += (
            " Shaped links (the host's own queueing discipline, as it reported it at the start of the run;"
            " its latencies include the shaping): " + "; ".join(shaped) + "."
        )
    return facts


#: Queueing disciplines that limit rate or add delay; a host's default (noqueue, fq_codel, mq,
#: pfifo_fast) does neither.
SHAPING_QDISCS = ("tbf", "htb", "netem", "cake", "hfsc", "cbq")


def shaped_links(hosts: dict[str, Any]) -> list[str]:
    """`host: dev qdisc ...` for every host whose interface was shaped (remote.FACTS_SCRIPT's `link`)."""
    out = []
    for name, facts in sorted(hosts.items()):
        link = str((facts or {}).get("link") or "")
        words = link.split()
        if len(words) > 2 and words[1] == "qdisc" and words[2] in SHAPING_QDISCS:
            out.append(f"{name}: {link}")
    return out


def restart_steps(steps: list[dict[str, Any]]) -> str:
    """The steps of a restart that needed more than `systemctl restart`, in brackets; "" else."""
    if len(steps) < 2:
        return ""
    return " (" + "; then ".join(f"{s['step']}: {s['outcome']}" for s in steps) + ")"
