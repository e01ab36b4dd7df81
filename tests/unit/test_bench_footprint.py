"""kit/bench/footprint.py's pure parts: a start's record from the script's line, the idle figures
from the sampler's own lines captured on a real MLServer host, and the cold starts' interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.bench import footprint

TELEMETRY = Path(__file__).parent.parent / "data" / "telemetry"


def test_a_start_is_timed_from_the_hosts_own_clock() -> None:
    assert footprint.timed_start(0, "200 12345\n", 120) == {"seconds": 12.345, "correct": True, "why": ""}
    assert footprint.timed_start(3, "000 timeout\n", 120) == {
        "seconds": None,
        "correct": False,
        "why": "no 2xx reply within 120 s (last HTTP code 000)",
    }
    assert footprint.timed_start(5, "", 120)["why"] == "systemctl start failed"
    assert footprint.timed_start(1, "garbage", 120)["why"] == "exit 1: garbage"


def test_idle_figures_come_from_the_samplers_lines() -> None:
    text = (TELEMETRY / "mlserver-lxd.sampler.jsonl").read_text() + '{"ts_ns": 1, "cpu_p'  # a cut last line
    got = footprint.idle_figures(text, 5.0)
    assert got["idle_samples"] == 4 and got["idle_s"] == 5.0
    assert got["rss_after_load_mb"] == pytest.approx(2073370624 / 2**20)
    assert 0.2 < got["idle_cpu_pct"] < 0.4
    assert footprint.idle_figures("", 5.0)["rss_idle_mb"] is None
    nobody = '{"ts_ns": 1, "cpu_pct": 0.0, "rss_bytes": 0, "procs": 0}\n'  # the scope found no process
    assert footprint.idle_figures(nobody * 2, 2.0) == {
        "rss_after_load_mb": None,
        "rss_idle_mb": None,
        "idle_cpu_pct": None,
        "idle_s": 2.0,
        "idle_samples": 0,
    }


def test_only_correct_starts_are_timed_and_three_give_an_interval() -> None:
    starts = [{"seconds": s, "correct": True, "why": ""} for s in (10.0, 12.0, 11.0)]
    got = footprint.summarize([*starts, {"seconds": 3.0, "correct": False, "why": "wrong"}])
    assert got["cold_start_s"] == [10.0, 12.0, 11.0] and got["cold_start_mean_s"] == pytest.approx(11.0)
    assert got["cold_start_lo_s"] < 11.0 < got["cold_start_hi_s"] and len(got["starts"]) == 4
