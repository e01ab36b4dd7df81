import json
from pathlib import Path

import pytest

from kit.configure import ansible
from kit.configure.ansible import PlaybookResult, failure_from_event, raise_for, summarize_events
from kit.errors import HostError


def events(data_dir: Path, name: str) -> list[dict]:
    return json.loads((data_dir / "ansible" / name).read_text())


def test_second_converge_changes_nothing(data_dir: Path) -> None:
    changed, failures = summarize_events(events(data_dir, "site_second_converge_events.json"))
    assert changed == {} and failures == []


def test_failed_task_names_host_task_and_message(data_dir: Path) -> None:
    evs = events(data_dir, "deploy_failed_events.json")
    found = [f for f in (failure_from_event(e) for e in evs) if f]
    assert found and found[-1]["host"] == "srv-mlserver"
    result = PlaybookResult("deploy.yml", "failed", 1.0, failures=found, log="/x/ansible.log")
    try:
        raise_for(result)
    except HostError as exc:
        assert exc.host == "srv-mlserver"
        assert exc.what.startswith(
            "srv-mlserver: deploying broken failed and was rolled back: MLServer on srv-mlserver did not become ready at /v2/models/broken/ready within 8s; journal errors: ModuleNotFoundError: No module named 'no_such_runtime'"
        )
        assert exc.hint == "Read /x/ansible.log (the task's full output)"
    else:
        raise AssertionError("no error raised")


def test_unreachable_host(data_dir: Path) -> None:
    evs = events(data_dir, "unreachable_events.json")
    found = [f for f in (failure_from_event(e) for e in evs) if f]
    result = PlaybookResult("site.yml", "failed", 1.0, unreachable=found, log="/x/ansible.log")
    # pytest.raises, not try/except: a raise_for that raised nothing passed the old form of this test.
    with pytest.raises(HostError) as info:
        raise_for(result)
    assert info.value.host == "srv-mlserver"
    assert info.value.what == (
        "host srv-mlserver did not answer over SSH: Task failed: Data could not be sent to remote host "
        '"10.78.0.23". Make sure this host can be reached over ssh: ssh: connect to host 10.78.0.23 '
        "port 22: Connection timed out"
    )
    assert info.value.hint == (
        "Check it with `kit status`; `kit down` then `kit up` recreates it. Log: /x/ansible.log"
    )


def test_a_run_ansible_runner_cancelled_is_ctrl_c_not_a_failure() -> None:
    # A paper run's Ctrl-C during a deploy was recorded as "deploy.yml ended canceled" against every
    # cell of the pair, and the bench went on with the next pair.
    with pytest.raises(KeyboardInterrupt):
        ansible.raise_if_interrupted("canceled")
    for status in ("successful", "failed", "timeout"):
        ansible.raise_if_interrupted(status)


def test_ctrl_c_stops_the_kit_again_after_a_playbook() -> None:
    # ansible-runner's own signal_handler (what ansible_runner.run installs when given no cancel
    # callback) swallowed every later Ctrl-C of a paper run. Inside own_signal_handlers it is undone.
    import os
    import signal

    from ansible_runner.utils import signal_handler

    inherited = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    # As in a kit started from a terminal (a background start inherits SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        with ansible.own_signal_handlers():
            cancelled = signal_handler()
            assert cancelled is not None and signal.getsignal(signal.SIGINT) not in before
            os.kill(os.getpid(), signal.SIGINT)  # during the run: the runner's flag, not an exception
            assert cancelled()
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.1)  # let the handler run
    finally:
        signal.signal(signal.SIGINT, inherited[0])
        signal.signal(signal.SIGTERM, inherited[1])
