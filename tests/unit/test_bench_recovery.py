"""kit/bench/recovery.py: when a pair leaves its server to be restarted, and how the report says it."""

from __future__ import annotations

from kit.bench.recovery import ServerGone, gone_after_overload, troubled
from kit.report.build import restart_steps


def cell(status: str, rate: float = 10, reason: str = "") -> dict[str, object]:
    return {"payload": "small", "rate": rate, "rep": 0, "status": status, "reason": reason}


def test_a_pair_whose_cells_all_counted_needs_no_restart() -> None:
    assert troubled([cell("ok"), cell("invalid", reason="send lag"), cell("skipped")]) == ""
    assert troubled([]) == ""


def test_an_overloaded_or_failed_cell_restarts_the_server_naming_the_first() -> None:
    records = [
        cell("ok"),
        cell("overloaded", 20, "overloaded: 48/50 measured requests failed"),
        cell("failed", 40),
    ]
    assert troubled(records) == (
        "2 of the pair's 3 cells ended overloaded or failed "
        "(first: small @ 20 req/s: overloaded: overloaded: 48/50 measured requests failed)"
    )


def test_the_report_names_the_steps_only_when_the_restart_needed_more_than_one() -> None:
    assert restart_steps([{"step": "systemctl restart mlflow", "outcome": "done", "seconds": 1.2}]) == ""
    steps = [
        {
            "step": "systemctl restart bentoml",
            "outcome": "systemctl restart bentoml on srv-bentoml did not finish within 60s",
        },
        {"step": "systemctl kill --signal=SIGKILL bentoml", "outcome": "done"},
        {"step": "systemctl start bentoml", "outcome": "done"},
    ]
    assert restart_steps(steps) == (
        " (systemctl restart bentoml: systemctl restart bentoml on srv-bentoml did not finish within 60s; "
        "then systemctl kill --signal=SIGKILL bentoml: done; then systemctl start bentoml: done)"
    )


def test_an_overloaded_cell_whose_server_never_came_back_failed_saying_both() -> None:
    gone = ServerGone(
        "not run: srv-mlflow (10.78.0.24) did not serve mlflow/image again within 120 s of a failed cell (x)",
        "hint",
        after_cell="srv-mlflow (10.78.0.24) stopped answering: after the cell, it did not serve "
        "mlflow/image again within 120 s (x)",
    )
    overloaded = cell(
        "overloaded", reason="40/50 measured requests failed (80.0 %, over the 1 % a counted cell may lose)"
    )
    assert gone_after_overload(overloaded, gone) == (
        "srv-mlflow (10.78.0.24) stopped answering: after the cell, it did not serve mlflow/image again "
        "within 120 s (x); 40/50 measured requests failed (80.0 %, over the 1 % a counted cell may lose); "
        "check it with `kit status` (`kit up` starts a stopped host)"
    )
