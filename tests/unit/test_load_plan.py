import base64
import json

import pytest

from kit.errors import UsageError
from kit.load.plan import Phase, Plan, Target, engine_path
from kit.shipped import engine

T = Target(
    "POST", "http://10.78.0.23:8090/v2/models/malware/infer", {"Content-Type": "application/json"}, b"\x00{}"
)


def test_plan_json_is_what_the_engine_reads() -> None:
    plan = Plan(
        targets=[T], phases=[Phase("warmup", 50, 2), Phase("measure", 50, 5)], arrival="poisson", seed=3
    )
    doc = json.loads(plan.to_json())
    assert doc["targets"] == [
        {
            "method": "POST",
            "url": "http://10.78.0.23:8090/v2/models/malware/infer",
            "headers": {"Content-Type": "application/json"},
            "body_b64": base64.b64encode(b"\x00{}").decode(),
        }
    ]
    assert doc["phases"] == [
        {"name": "warmup", "rate": 50, "duration_s": 2},
        {"name": "measure", "rate": 50, "duration_s": 5},
    ]
    assert {
        k: doc[k] for k in ("arrival", "seed", "timeout_s", "keepalive", "warm_connections", "drain_s")
    } == {
        "arrival": "poisson",
        "seed": 3,
        "timeout_s": 10.0,
        "keepalive": True,
        "warm_connections": 4,
        "drain_s": 10.0,
    }
    assert plan.seconds() == 7
    assert len(engine.schedule(doc["phases"], "constant", doc["seed"])) == 350


def test_engine_path_is_the_engine() -> None:
    assert engine_path().name == "engine.py" and engine_path().read_text().startswith(
        "#!/usr/bin/env python3"
    )


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"phases": [Phase("measure", 0, 5)]}, "rate 0 req/s is not above zero"),
        ({"phases": [Phase("measure", -3, 5)]}, "rate -3 req/s is not above zero"),
        ({"phases": [Phase("measure", 5, 0)]}, "duration 0s of phase measure is not above zero"),
        ({"phases": []}, "the load plan has no phase"),
        (
            {"phases": [Phase("measure", 5, 1), Phase("measure", 5, 1)]},
            "phase names ['measure', 'measure'] are empty or repeated",
        ),
        ({"targets": []}, "the load plan has no target"),
        ({"targets": [Target("POST", "ftp://x", {}, b"")]}, "target URL 'ftp://x' is not http(s)"),
        (
            {"targets": [Target("POST", "10.0.0.1:8090/x", {}, b"")]},
            "target URL '10.0.0.1:8090/x' is not http(s)",
        ),
        ({"targets": [Target("", "http://x/", {}, b"")]}, "HTTP method '' is not valid"),
        ({"arrival": "bursty"}, "unknown arrival process 'bursty'"),
        ({"timeout_s": 0}, "request timeout 0s is not above zero"),
        ({"drain_s": -1}, "drain time -1s is negative"),
        ({"warm_connections": -1}, "warm_connections -1 is negative"),
    ],
)
def test_bad_plans_are_refused_with_a_hint(kwargs: dict, what: str) -> None:
    base = {"targets": [T], "phases": [Phase("measure", 50, 5)]}
    with pytest.raises(UsageError) as info:
        Plan(**{**base, **kwargs})
    assert info.value.what == what and info.value.hint


def test_the_schedule_is_known_before_t0_and_is_the_engines() -> None:
    plan = Plan(
        targets=[T], phases=[Phase("warmup", 50, 2), Phase("measure", 50, 5)], arrival="poisson", seed=3
    )
    doc = json.loads(plan.to_json())
    assert plan.schedule() == engine.schedule(doc["phases"], "poisson", 3) == plan.schedule()
    counts = plan.scheduled()
    assert counts == {
        "warmup": sum(1 for n, _ in plan.schedule() if n == "warmup"),
        "measure": counts["measure"],
    }
    assert counts["measure"] != 250  # the draw's own count, not rate x duration
    constant = Plan(targets=[T], phases=[Phase("warmup", 50, 2), Phase("measure", 50, 5)])
    assert constant.scheduled() == {"warmup": 100, "measure": 250}


def test_a_measured_phase_whose_schedule_holds_no_request_is_refused() -> None:
    phases = [Phase("warmup", 0.2, 2), Phase("measure", 0.2, 5)]
    with pytest.raises(UsageError) as exc:
        Plan(targets=[T], phases=phases, arrival="poisson", seed=0)
    assert exc.value.what == (
        "phase measure at 0.2 req/s for 5s schedules no request (the poisson schedule drawn with seed 0)"
    )
    assert (
        exc.value.hint
        == "Use a higher rate or a longer duration: the phase needs at least one request to measure"
    )
    assert Plan(targets=[T], phases=phases, arrival="poisson", seed=3).scheduled()["measure"] == 1
    with pytest.raises(
        UsageError, match=r"at 0.05 req/s for 5s schedules no request \(the constant schedule\)"
    ):
        Plan(targets=[T], phases=[Phase("measure", 0.05, 5)])
    # A warm-up may draw nothing: it only opens connections.
    assert (
        Plan(targets=[T], phases=[Phase("warmup", 0.05, 5), Phase("measure", 1, 5)]).scheduled()["warmup"]
        == 0
    )
