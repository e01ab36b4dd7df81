"""The bench protocol: settings, cells, verdicts, and the SLO sweep's bisection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kit import config
from kit.bench import protocol, slo
from kit.errors import UsageError
from kit.load.plan import Phase
from kit.results import aggregate

SMOKE = config.PROFILES["smoke"]
PAPER = config.PROFILES["paper"]


# --- settings -----------------------------------------------------------------------------------
def test_the_paper_profile_is_the_studys() -> None:
    assert (PAPER.rates, PAPER.duration_s, PAPER.repetitions) == ((200,), 60, 3)
    assert PAPER.payloads == ("small", "medium", "large")
    assert PAPER.scenarios == ("malware", "crypto", "image", "sentiment") and PAPER.arrival == "constant"
    assert (SMOKE.rates, SMOKE.duration_s, SMOKE.repetitions, SMOKE.scenarios) == ((10,), 5, 1, ())


def test_command_line_options_lay_over_the_profile() -> None:
    got = protocol.resolve(
        PAPER, {"rates": (100.0, 400.0), "duration_s": 30, "engine": "vegeta", "sweep": None}
    )
    assert got.rates == (100.0, 400.0) and got.duration_s == 30 and got.engine == "vegeta"
    assert got.payloads == PAPER.payloads and got.repetitions == 3 and got.sweep is False
    assert protocol.resolve(PAPER, {"rates": (), "arrival": None}) is PAPER  # nothing given: unchanged


@pytest.mark.parametrize(
    ("overrides", "what"),
    [
        ({"rates": (0.0,)}, "bench settings: rates: rates must be above 0 req/s, got [0.0]"),
        ({"duration_s": 0}, "bench settings: duration_s: Input should be greater than 0"),
        ({"engine": "wrk"}, "bench settings: engine: Input should be 'kit' or 'vegeta'"),
    ],
)
def test_bad_options_are_usage_errors(overrides: dict[str, Any], what: str) -> None:
    with pytest.raises(UsageError) as info:
        protocol.resolve(SMOKE, overrides)
    assert info.value.what == what and info.value.hint == "See `kit bench --help` for every option"


def test_a_cell_is_a_warmup_then_the_measured_phase() -> None:
    assert protocol.phases(SMOKE, 50) == [Phase("warmup", 50, 2), Phase("measure", 50, 5)]
    no_warmup = protocol.resolve(SMOKE, {"warmup_s": 0})
    assert protocol.phases(no_warmup, 75) == [Phase("measure", 75, 5)]


def test_cells_run_each_rates_repetitions_back_to_back() -> None:
    settings = protocol.resolve(PAPER, {"rates": (100.0, 200.0), "payloads": ("small", "large")})
    got = [(c.payload, c.rate, c.rep) for c in protocol.cells(settings, "mlserver", "malware")]
    assert got[:4] == [("small", 100, 0), ("small", 100, 1), ("small", 100, 2), ("small", 200, 0)]
    assert len(got) == 2 * 2 * 3 and got[-1] == ("large", 200, 2)


# --- verdicts -----------------------------------------------------------------------------------
OK_SUMMARY = {"ok": 100, "valid": True, "invalid_reason": ""}


def engine_summary(**measure: Any) -> dict[str, Any]:
    return {"per_phase": {"measure": {"not_sent": 0, "valid": True, "invalid_reason": "", **measure}}}


def test_a_clean_cell_is_ok() -> None:
    assert protocol.verdict(OK_SUMMARY, engine_summary()) == ("ok", "")
    assert protocol.verdict(OK_SUMMARY, None) == ("ok", "")  # vegeta: no engine account


def test_the_rows_gates_make_a_cell_invalid() -> None:
    summary = {
        "ok": 100,
        "valid": False,
        "invalid_reason": "send-lag p99 3.2 ms > 1 ms: the client was the bottleneck",
    }
    assert protocol.verdict(summary, engine_summary()) == ("invalid", summary["invalid_reason"])


def test_requests_never_sent_make_a_cell_invalid() -> None:
    status, reason = protocol.verdict(OK_SUMMARY, engine_summary(not_sent=12))
    assert (status, reason) == ("invalid", "12 scheduled requests were never sent")


def test_the_engines_own_rate_shortfall_counts_when_the_rows_look_fine() -> None:
    """Rows span only what was sent: a client that fell behind at the end looks on rate in them."""
    engine = engine_summary(valid=False, invalid_reason="achieved rate 180.2 req/s < 99% of the target 200")
    assert protocol.verdict(OK_SUMMARY, engine) == (
        "invalid",
        "the engine's own account: achieved rate 180.2 req/s < 99% of the target 200",
    )


def test_a_cell_that_mostly_failed_is_overloaded_not_ok() -> None:
    """A server that held its requests past the timeout (captured rows): a quarter timed out, the rest
    answered. Before, that was `ok` and counted; make demo's MLflow x image (48 of 50 timed out) too."""
    rows = engine_rows("server_stalled.engine.csv")
    summary = aggregate.summarize(rows.lazy()).to_dicts()[0]
    assert (summary["requests"], summary["errors"], summary["valid"]) == (200, 50, True)
    assert protocol.verdict(summary, engine_summary(), rows) == (
        "overloaded",
        "50/200 measured requests failed (25.0 %, over the 1 % a counted cell may lose) "
        "(first: code 0 timeout after 2s)",
    )
    demo = {**OK_SUMMARY, "requests": 50, "ok": 2, "errors": 48}
    assert protocol.verdict(demo, None) == (  # vegeta's account, and no rows given: no first error
        "overloaded",
        "48/50 measured requests failed (96.0 %, over the 1 % a counted cell may lose)",
    )


def test_one_reset_in_250_is_an_error_of_an_ok_cell() -> None:
    rows = engine_rows("bentoml_one_reset.engine.csv")
    summary = aggregate.summarize(rows.lazy()).to_dicts()[0]
    assert (summary["errors"], protocol.verdict(summary, engine_summary(), rows)) == (1, ("ok", ""))


def test_a_client_that_was_the_bottleneck_is_invalid_even_when_requests_failed() -> None:
    """A starved client reads its replies late: its failures cannot be laid on the server."""
    summary = {
        "requests": 50,
        "ok": 40,
        "errors": 10,
        "valid": False,
        "invalid_reason": "send-lag p99 9 ms > 1 ms",
    }
    assert protocol.verdict(summary, None) == (
        "invalid",
        "send-lag p99 9 ms > 1 ms; also overloaded: 10/50 measured requests failed (20.0 %, over the 1 % a "
        "counted cell may lose)",
    )


def test_no_success_at_all_is_failed() -> None:
    assert protocol.verdict({"ok": 0, "valid": True}, engine_summary())[0] == "failed"
    assert protocol.verdict({}, None)[0] == "failed"


def test_a_busy_client_is_a_warning() -> None:
    assert protocol.client_cpu_warning(None) == "" and protocol.client_cpu_warning(80.0) == ""
    assert protocol.client_cpu_warning(93.4) == (
        "client CPU 93 % during the measured phase (over 80 %): the client may have limited the load; "
        "use more client cores or a lower rate"
    )


# --- the SLO sweep -------------------------------------------------------------------------------
def sweep_against(capacity: float, **kw: Any) -> slo.Sweep:
    """A server whose p99 meets the SLO exactly up to `capacity` req/s."""
    sweep = slo.Sweep(100.0, **{"start": 50.0, "max_rate": 20000.0, "max_probes": 20, **kw})
    while (rate := sweep.next_rate()) is not None:
        meets = rate <= capacity
        sweep.record(rate, 40.0 if meets else 900.0, "meets" if meets else "misses")
    return sweep


def test_the_sweep_doubles_then_bisects_to_the_capacity() -> None:
    sweep = sweep_against(730.0)
    rates = [p.rate for p in sweep.probes]
    assert rates[:6] == [50, 100, 200, 400, 800, 600]  # doubling until the SLO is missed, then halves
    assert sweep.best is not None and 730 * 0.95 <= sweep.best <= 730 and sweep.hi is not None
    assert sweep.hi - sweep.best <= 0.05 * sweep.best and sweep.stopped == "bracketed within 5%"
    assert len(rates) == len(set(rates))


def test_the_sweep_halves_when_even_the_first_rate_misses() -> None:
    sweep = sweep_against(30.0)
    assert (
        [p.rate for p in sweep.probes][:2] == [50, 25] and sweep.best is not None and 28.5 <= sweep.best <= 30
    )


def test_the_sweep_stops_at_its_caps() -> None:
    capped = sweep_against(1e9, max_rate=1000.0)
    assert capped.best == 1000 and capped.stopped == "the SLO held up to the rate cap of 1000 req/s"
    few = sweep_against(730.0, max_probes=4)
    assert len(few.probes) == 4 and few.best == 400 and few.stopped == "probe cap of 4 reached"
    hopeless = sweep_against(0.1)
    assert hopeless.best is None and hopeless.stopped.startswith("the SLO was missed even at")


def test_a_probe_that_cannot_be_judged_ends_the_sweep() -> None:
    sweep = slo.Sweep(100.0, start=50.0, max_rate=1000.0, max_probes=8)
    sweep.record(sweep.next_rate() or 0, 10.0, "meets")
    sweep.record(sweep.next_rate() or 0, None, "unjudged", "rep 0 is invalid: send-lag p99 2 ms > 1 ms")
    assert sweep.next_rate() is None and sweep.best == 50
    assert (
        sweep.report()["stopped_because"]
        == "100 req/s could not be judged: rep 0 is invalid: send-lag p99 2 ms > 1 ms"
    )


def cell(rep: int, status: str = "ok", p99: float | None = 20.0, error_rate: float = 0.0) -> dict[str, Any]:
    return {
        "rep": rep,
        "status": status,
        "reason": "why",
        "summary": {"p99_ms": p99, "error_rate": error_rate},
    }


def test_judge_takes_the_worst_repetition() -> None:
    assert slo.judge([cell(0), cell(1, p99=60.0)], 50.0) == ("misses", 60.0, "p99 60.0 ms > SLO 50 ms")
    assert slo.judge([cell(0), cell(1, p99=45.0)], 50.0) == ("meets", 45.0, "")
    assert slo.judge([cell(0), cell(1, error_rate=0.02)], 50.0)[:2] == ("misses", 20.0)
    assert slo.judge([cell(0, status="failed", p99=None)], 50.0)[0] == "misses"
    overloaded = cell(1, status="overloaded", p99=10_000.0, error_rate=0.96)
    overloaded["reason"] = "48/50 measured requests failed"
    assert slo.judge([cell(0), overloaded], 50.0) == (
        "misses",
        10_000.0,
        "rep 1 overloaded: 48/50 measured requests failed",
    )
    assert slo.judge([cell(0), cell(1, status="invalid")], 50.0) == (
        "unjudged",
        20.0,
        "rep 1 is invalid: why",
    )


# --- a server that went away --------------------------------------------------------------------
ENGINE_DATA = Path(__file__).parent.parent / "data" / "engine"


def engine_rows(name: str) -> Any:
    from kit.load import engine_rows

    return engine_rows.rows_from_engine_csv(
        ENGINE_DATA / name,
        run_id="r",
        framework="mlserver",
        scenario="malware",
        payload="small",
        rate=50.0,
        rep=0,
    )


def test_a_server_killed_mid_phase_fails_the_cell_and_names_it() -> None:
    rows = engine_rows("server_killed.engine.csv")
    assert protocol.server_failure(rows, "srv-mlserver (10.78.0.23)") == (
        "srv-mlserver (10.78.0.23) stopped answering during the measured phase: 58/200 requests found it "
        "gone (first: Cannot connect to 127.0.0.1:18765: ConnectionRefusedError: [Errno 111] Connection "
        "refused); check it with `kit status` (`kit up` starts a stopped host)"
    )


def test_a_slow_server_is_not_a_lost_one() -> None:
    # Timeouts are an overloaded server's errors: counted in error_rate, not a failed cell.
    rows = engine_rows("server_stalled.engine.csv")
    assert rows.filter(rows["error"].str.starts_with("timeout")).height == 50
    assert protocol.server_failure(rows, "srv-mlserver (10.78.0.23)") == ""


def test_one_reset_connection_is_an_error_not_a_lost_server() -> None:
    # A real BentoML smoke cell: 249 replies and one connection reset; the server stayed up.
    rows = engine_rows("bentoml_one_reset.engine.csv")
    measured = rows.filter(pl.col("phase") == "measure")
    assert measured.filter(pl.col("code") == 0)["error"].to_list() == [
        "server closed the connection before its reply ended: ConnectionResetError: [Errno 104] "
        "Connection reset by peer"
    ]
    assert protocol.server_failure(rows, "srv-bentoml (10.78.0.25)") == ""


def test_refusals_in_the_warm_up_do_not_fail_the_cell() -> None:
    rows = engine_rows("server_killed.engine.csv")
    moved = rows.with_columns(
        phase=pl.when(pl.col("code") == 0).then(pl.lit("warmup")).otherwise(pl.col("phase"))
    )
    assert protocol.server_failure(moved, "srv-mlserver (10.78.0.23)") == ""


def test_every_cells_schedule_is_checked_before_any_host_is_touched() -> None:
    sparse = protocol.resolve(SMOKE, {"rates": (10.0, 0.1), "duration_s": 1.0})
    with pytest.raises(UsageError) as info:
        protocol.check_schedules(sparse, seed=42)
    assert info.value.what == "phase measure at 0.1 req/s for 1s schedules no request (the constant schedule)"
    protocol.check_schedules(protocol.resolve(sparse, {"rates": (10.0,)}), seed=42)  # 10 req/s x 1 s: fine
    protocol.check_schedules(
        protocol.resolve(sparse, {"sweep": True, "slo_p99_ms": 50}), seed=42
    )  # rates unknown yet


# --- the tail verdict and the measured phase's length -------------------------------------------
STUDY = config.PROFILES["study"]


def test_a_measured_phase_holds_the_requests_a_p99_verdict_needs() -> None:
    # 300 + 3 sqrt(300) = 352 requests: 71 s at 5 req/s, the 10 s floor from 36 req/s, capped at 120 s
    assert slo.measured_seconds(STUDY, 5.0) == 71.0
    assert slo.measured_seconds(STUDY, 40.0) == 10.0
    assert slo.measured_seconds(STUDY, 1.0) == 120.0
    assert slo.measured_seconds(SMOKE, 1.0) == SMOKE.duration_s  # no least count: as set
    assert protocol.phases(STUDY, 5.0)[-1] == Phase("measure", 5.0, 71.0)
    # below 352 / 120 s = 2.9 req/s no probe could show the SLO met: the sweep halves no further
    assert slo.lowest_judgeable_rate(STUDY) == pytest.approx(351.96 / 120, abs=0.001)
    assert slo.lowest_judgeable_rate(SMOKE) == 1.0


def test_requests_over_the_slo_count_failures_and_latency_from_the_scheduled_send() -> None:
    rows = engine_rows("bentoml_one_reset.engine.csv")  # 250 measured, one reset, p99 ~ 20 ms
    assert slo.slo_counts(rows, 50.0) == (250, 1)  # the reset counts as over
    assert slo.slo_counts(rows, 10.0) == (250, 11)
    record = slo.slo_record(rows, 50.0)
    assert (record["requests"], record["over"], record["verdict"]) == (250, 1, "unproven")
    assert record["why"].endswith("(needs 473 with 1 over)")


def slo_cell(rep: int, requests: int, over: int, slo: float = 50.0) -> dict[str, Any]:
    record = cell(rep, p99=20.0)
    record["summary"]["slo"] = {"slo_p99_ms": slo, "requests": requests, "over": over}
    return record


def test_judge_pools_the_repetitions_requests_for_the_tail() -> None:
    assert slo.judge([slo_cell(0, 300, 0)], 50.0) == ("meets", 20.0, "")
    # one slow request in 300 leaves p99 <= SLO unproven: the probe misses, saying why
    outcome, _, why = slo.judge([slo_cell(0, 300, 1)], 50.0)
    assert outcome == "misses" and "needs 473 with 1 over" in why
    # ... and two repetitions of 300 with that one show it
    assert slo.judge([slo_cell(0, 300, 1), slo_cell(1, 300, 0)], 50.0)[0] == "meets"
    assert slo.pooled([slo_cell(0, 300, 1), slo_cell(1, 300, 0)], 50.0) == (600, 1, 1)
    # counted against another SLO (or not at all): judged by the measured p99 as before
    assert slo.pooled([slo_cell(0, 300, 0, slo=80.0)], 50.0) is None
    assert slo.judge([slo_cell(0, 10, 0, slo=80.0)], 50.0) == ("meets", 20.0, "")


def lagging(
    rep: int, requests: int, over: int, over_from_sent: int, rate_short: bool = False, slo_ms: float = 50.0
) -> dict[str, Any]:
    record = slo_cell(rep, requests, over, slo=slo_ms)
    record["status"], record["reason"] = (
        "invalid",
        "send-lag p99 2.7 ms > 1 ms: the client was the bottleneck",
    )
    record["summary"]["slo"]["over_from_sent"] = over_from_sent
    record["summary"]["rate_short"] = rate_short
    return record


def test_a_lagging_client_is_judged_where_its_lag_cannot_change_the_verdict() -> None:
    # 33 of 381 over 100 ms from the schedule: 20 of them even from the actual sends: missed for sure
    outcome, _, why = slo.judge([lagging(0, 381, 33, 20)], 50.0)
    assert outcome == "misses" and why.startswith("20 of 381 requests over 50 ms or failed (more than 1 %)")
    assert "timed from the actual sends (the client's lag left out; rep 0 is invalid: send-lag" in why
    # none over even with the lag counted, from a client that sent its whole schedule: met for sure
    outcome, _, why = slo.judge([lagging(0, 400, 0, 0)], 50.0)
    assert outcome == "meets" and why.startswith("met with the client's lag counted in the latency")
    # the same from a client that fell short of its rate: the server did not get the load
    assert slo.judge([lagging(0, 400, 0, 0, rate_short=True)], 50.0)[0] == "unjudged"
    # the lag could have made the difference: over from the schedule, not from the actual sends
    outcome, _, why = slo.judge([lagging(0, 400, 9, 1)], 50.0)
    assert (outcome, why) == (
        "unjudged",
        "rep 0 is invalid: send-lag p99 2.7 ms > 1 ms: the client was the bottleneck",
    )


def test_a_lagging_client_with_too_few_requests_is_unproven_and_more_can_decide() -> None:
    # The real first probe of a study here: TorchServe at 5 req/s, the client's send lag 2.7 ms, one
    # request over 100 ms from its schedule and none from its actual send
    outcome, _, why = slo.assess([lagging(0, 324, 1, 0, slo_ms=100.0)], 100.0)
    assert outcome == "unproven" and why.startswith("1 of 324 requests over 100 ms or failed: too few")
    assert slo.judge([lagging(0, 324, 1, 0, slo_ms=100.0)], 100.0)[0] == "misses"  # unproven counts as a miss
    assert (
        slo.judge([lagging(0, 324, 1, 0, slo_ms=100.0), slo_cell(20, 330, 0, slo=100.0)], 100.0)[0] == "meets"
    )


def test_fast_but_wrong_misses_the_slo() -> None:
    record = slo_cell(0, 400, 0)
    record["summary"]["outputs"] = {
        "mismatched": 1,
        "compared": 8,
        "first_mismatch": "request 150: parity failed",
    }
    assert slo.judge([record], 50.0) == (
        "misses",
        20.0,
        "rep 0: 1 of 8 sampled replies differ from the model's outputs (first: request 150: parity failed)",
    )
