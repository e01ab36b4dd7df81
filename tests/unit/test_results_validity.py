"""kit/results/validity.py (on stored rows) and the engine's own copy of its gates (kit/shipped/engine.py).

The client gates judge the client, never the draw: a schedule of seeded Poisson arrivals, drawn as the
bench draws it (kit.load.plan.Plan.schedule), sent on time, is valid for every seed; a client that
sent late or never is caught. The send lag is judged against the latency it could have moved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest

from kit.bench import protocol
from kit.load.plan import Phase, Plan, Target
from kit.results import aggregate, validity
from kit.results.schema import conform
from kit.shipped import engine

T = Target("POST", "http://10.78.0.23:8090/v2/models/malware/infer")
#: (rate, warm-up s, measured s) of the profiles (kit/config.py PROFILES).
PAPER, SMOKE = (200.0, 10.0, 60.0), (10.0, 2.0, 5.0)
SEEDS = range(400)
T0 = 1_700_000_000_000_000_000
LAG_NS = 50_000  # a punctual client on one core: 50 us late
SERVICE_NS = 2_000_000


def plan(rate: float, warmup: float, duration: float, seed: int) -> Plan:
    phases = [Phase("warmup", rate, warmup), Phase("measure", rate, duration)]
    return Plan(targets=[T], phases=phases, arrival="poisson", seed=seed)


def measured(p: Plan) -> list[tuple[int, int]]:
    """(seq, intended offset ns) of the measured phase's requests, as the engine numbers them."""
    return [(i, round(t * 1e9)) for i, (name, t) in enumerate(p.schedule()) if name == "measure"]


def rows(
    rate: float,
    sends: Sequence[tuple[int, int]],
    lags: Sequence[int] | None = None,
    services: Sequence[int] | None = None,
    rep: int = 0,
    engine_name: str = "kit",
) -> pl.DataFrame:
    """Measured raw rows of one cell: (seq, intended offset) each sent `lag` late, served in `service`."""
    n = len(sends)
    lag = list(lags) if lags is not None else [LAG_NS] * n
    svc = list(services) if services is not None else [SERVICE_NS] * n
    intended = [T0 + t for _, t in sends]
    sent = [i + d for i, d in zip(intended, lag, strict=True)]
    done = [s + v for s, v in zip(sent, svc, strict=True)]
    return conform(
        pl.DataFrame(
            {
                "run_id": "t",
                "framework": "mlserver",
                "scenario": "malware",
                "payload": "small",
                "rate": rate,
                "rep": rep,
                "phase": "measure",
                "seq": [s for s, _ in sends],
                "intended_ns": intended,
                "sent_ns": sent,
                "done_ns": done,
                "latency_ns": [d - i for d, i in zip(done, intended, strict=True)],
                "service_ns": svc,
                "code": [200] * n,
                "bytes_out": 10,
                "bytes_in": 10,
                "error": [None] * n,
                "engine": engine_name,
            },
            schema_overrides={"error": pl.String, "code": pl.Int32},
        )
    )


def account(p: Plan, sends: Sequence[tuple[int, int]], lags: Sequence[int], services: Sequence[int]) -> dict:
    """The engine's own per-phase account of the plan's last (measured) phase, for the same sends."""
    phases, _, _ = engine.plan_schedule(json.loads(p.to_json()))
    stats = phases[-1]
    for (_, due), lag, svc in zip(sends, lags, services, strict=True):
        stats.sent += 1
        stats.lags_ns.append(lag)
        stats.finished(lag + svc, svc)
        stats.last_sent_ns = max(stats.last_sent_ns, due + lag)  # due: ns from t0, and t0 is 0 here
    return stats.report(0, None)


def constant(rate: float, n: int, first_seq: int = 0) -> list[tuple[int, int]]:
    return [(first_seq + i, round(i * 1e9 / rate)) for i in range(n)]


# --- item 1: Poisson arrivals are judged against their own schedule --------------------------------
@pytest.mark.parametrize(("profile", "settings"), [("paper", PAPER), ("smoke", SMOKE)])
def test_a_punctual_client_is_valid_for_every_poisson_draw(profile: str, settings: tuple[float, ...]) -> None:
    rate, warmup, duration = settings
    plans = [plan(rate, warmup, duration, seed) for seed in SEEDS]
    draws = [measured(p) for p in plans]
    got = aggregate.summarize(
        pl.concat([punctual(rate, d, seed) for seed, d in zip(SEEDS, draws, strict=True)])
    )
    assert got.height == len(SEEDS)
    # The draws are the hard cases the nominal gate failed on: many hold under 99 % of rate x duration.
    short_draws = sum(len(d) < 0.99 * rate * duration for d in draws)
    assert short_draws > len(SEEDS) * {"paper": 0.08, "smoke": 0.30}[profile]
    assert got.filter(~pl.col("valid")).select("rep", "invalid_reason").rows() == []
    # The engine's own account of the same sends agrees, seed for seed (every 8th of the long paper draws).
    for p, sends in list(zip(plans, draws, strict=True))[:: 8 if profile == "paper" else 1]:
        report = account(p, sends, [LAG_NS] * len(sends), [SERVICE_NS] * len(sends))
        assert (report["valid"], report["not_sent"]) == (True, 0), (p.seed, report["invalid_reason"])


def punctual(rate: float, sends: Sequence[tuple[int, int]], rep: int) -> pl.LazyFrame:
    """`rows` for a punctual client, built column-wise: 400 paper draws are five million rows."""
    both = np.array(sends, dtype=np.int64)
    base = pl.DataFrame({"seq": both[:, 0], "intended_ns": both[:, 1]})
    return base.lazy().select(
        pl.lit("mlserver").alias("framework"),
        pl.lit("malware").alias("scenario"),
        pl.lit("small").alias("payload"),
        pl.lit(rate).alias("rate"),
        pl.lit(rep, pl.Int32).alias("rep"),
        pl.lit("measure").alias("phase"),
        "seq",
        (pl.col("intended_ns") + T0).alias("intended_ns"),
        (pl.col("intended_ns") + T0 + LAG_NS).alias("sent_ns"),
        pl.lit(LAG_NS + SERVICE_NS, pl.Int64).alias("latency_ns"),
        pl.lit(SERVICE_NS, pl.Int64).alias("service_ns"),
        pl.lit(200, pl.Int32).alias("code"),
        pl.lit("kit").alias("engine"),
    )


def test_a_client_that_fell_behind_is_still_caught_under_poisson() -> None:
    rate, warmup, duration = SMOKE
    p = plan(rate, warmup, duration, 7)
    sends = measured(p)
    n = len(sends)
    # Late: the last fifth of the sends slip further and further behind, the last one by 1.5 s.
    late = [LAG_NS + max(0, i - 4 * n // 5) * 1_500_000_000 // (n - 4 * n // 5) for i in range(n)]
    s = aggregate.summarize(rows(rate, sends, late).lazy()).row(0, named=True)
    assert s["valid"] is False and "req/s scheduled" in s["invalid_reason"], s["invalid_reason"]
    report = account(p, sends, late, [SERVICE_NS] * n)
    assert report["valid"] is False and "req/s scheduled" in report["invalid_reason"]
    # Never: every tenth request of the schedule has no row (the rows' seq shows the gaps).
    holes = [x for i, x in enumerate(sends) if i % 10 != 5]
    s = aggregate.summarize(rows(rate, holes).lazy()).row(0, named=True)
    assert s["valid"] is False and "req/s scheduled" in s["invalid_reason"]
    # Never, at the end (rows cannot show those): the engine counts them, and the verdict says so.
    kept = sends[: n - 3]
    report = account(p, kept, [LAG_NS] * len(kept), [SERVICE_NS] * len(kept))
    assert report["not_sent"] == 3 and report["valid"] is False
    summary = aggregate.summarize(rows(rate, kept).lazy()).to_dicts()[0]
    status, reason = protocol.verdict(summary, {"per_phase": {"measure": report}})
    assert (status, reason.split(";")[0]) == ("invalid", "3 scheduled requests were never sent")


def test_vegeta_rows_carry_no_schedule_and_are_judged_against_the_constant_rate() -> None:
    # vegeta stamps intended = sent: a vegeta that fell behind sent 45 requests over the 5 s it was given
    # for 50, and nothing but the nominal (constant) schedule shows that.
    sends = [(i, round(i * 1e9 / 9.0)) for i in range(45)]
    s = aggregate.summarize(rows(10.0, sends, [0] * 45, engine_name="vegeta").lazy()).row(0, named=True)
    assert s["valid"] is False
    assert (
        s["invalid_reason"]
        == "achieved rate 9.0 req/s < 99% of the 10.0 req/s scheduled: the client was the bottleneck"
    )
    on_time = aggregate.summarize(rows(10.0, constant(10.0, 50), [0] * 50, engine_name="vegeta").lazy())
    assert on_time["valid"].to_list() == [True]


# --- item 2: the send lag against the latency it could have moved ---------------------------------
def judged(rate: float, lags: list[int], services: list[int]) -> tuple[dict, dict]:
    """(aggregate's summary row, the engine's own account) of one constant-rate cell."""
    n = len(lags)
    p = Plan(targets=[T], phases=[Phase("measure", rate, n / rate)])
    sends = constant(rate, n)
    row = aggregate.summarize(rows(rate, sends, lags, services).lazy()).row(0, named=True)
    return row, account(p, sends, lags, services)


def test_one_hiccup_in_a_short_slow_cell_moves_nothing() -> None:
    # make demo: 10 req/s for 5 s, a 40 ms server, one 3 ms scheduling hiccup on the shared core.
    lags = [80_000] * 50
    lags[23] = 3_000_000
    services = [40_000_000 + 100_000 * (i % 7) for i in range(50)]
    row, own = judged(10.0, lags, services)
    assert row["send_lag_p99_ms"] > 1.0  # the old gate's figure: p99 of 50 sends is nearly the worst one
    assert (row["valid"], row["invalid_reason"]) == (True, "")
    assert (own["valid"], own["invalid_reason"]) == (True, "")


def test_the_same_hiccup_on_the_slowest_request_still_moves_little() -> None:
    lags = [80_000] * 50
    lags[49] = 3_000_000
    services = [40_000_000] * 49 + [41_000_000]  # the late request is also the slowest one
    row, own = judged(10.0, lags, services)
    assert row["valid"] is True and own["valid"] is True


def test_a_stall_in_a_short_cell_that_moves_its_p99_is_caught() -> None:
    # One send 500 ms late to a 20 ms server: the p99 of 50 requests is half that request.
    lags = [80_000] * 50
    lags[10] = 500_000_000
    row, own = judged(10.0, lags, [20_000_000] * 50)
    assert row["valid"] is False
    assert row["invalid_reason"] == (
        "the send lag added 255.039 ms to the latency p99 (> 1 ms): the client was the bottleneck"
    )
    assert own["invalid_reason"] == row["invalid_reason"]


def test_a_client_lagging_at_2000_req_s_against_a_2_ms_server_is_invalid() -> None:
    # Lag comparable to latency: the allowance is the 1 ms floor, as strict as the old rule.
    lags = [300_000 + (1_200_000 if i % 50 == 0 else 0) for i in range(10_000)]  # 2 % of sends 1.5 ms late
    row, own = judged(2000.0, lags, [2_000_000] * 10_000)
    assert row["invalid_reason"] == "send-lag p99 1.5 ms > 1 ms: the client was the bottleneck"
    assert own["invalid_reason"] == row["invalid_reason"]


def test_a_lag_small_against_a_slow_server_is_allowed_and_one_large_against_it_is_not() -> None:
    lags = [100_000 + (3_000_000 if i % 40 == 0 else 0) for i in range(1000)]  # 2.5 % of sends 3.1 ms late
    row, own = judged(100.0, lags, [100_000_000] * 1000)  # 100 ms server: the allowance is 5 ms
    assert row["valid"] is True and own["valid"] is True
    row, own = judged(100.0, lags, [30_000_000] * 1000)  # 30 ms server: 1.5 ms
    assert row["invalid_reason"] == (
        "send-lag p99 3.1 ms > 1.5 ms, 5 % of the server's median 30.0 ms: the client was the bottleneck"
    )
    assert own["invalid_reason"] == row["invalid_reason"]


# --- item 3: the overload rule ----------------------------------------------------------------------
def test_overload_is_more_than_one_percent_of_the_measured_requests_failing() -> None:
    assert validity.overload_reason(250, 2) == ""  # 0.8 %
    assert validity.overload_reason(100, 1) == ""  # 1 % exactly: the sweep's limit itself
    assert validity.overload_reason(50, 48, "code 0 timeout after 10s") == (
        "48/50 measured requests failed (96.0 %, over the 1 % a counted cell may lose) "
        "(first: code 0 timeout after 10s)"
    )
    assert validity.overload_reason(0, 0) == ""
