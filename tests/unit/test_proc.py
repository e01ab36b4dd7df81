import sys
from pathlib import Path

import pytest

from kit import proc
from kit.errors import ProcessError


def test_success_captures_and_logs(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    lines: list[str] = []
    res = proc.run(
        [sys.executable, "-c", "print('a'); print('b')"], timeout=30, log=log, on_line=lines.append
    )
    assert res.returncode == 0 and res.stdout == "a\nb\n" and lines == ["a", "b"]
    assert "exit 0" in log.read_text()


def test_failure_carries_command_code_tail_and_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    cmd = [
        sys.executable,
        "-c",
        "import sys; print('one', file=sys.stderr); print('two', file=sys.stderr); sys.exit(3)",
    ]
    with pytest.raises(ProcessError) as info:
        proc.run(cmd, timeout=30, log=log, what="the thing")
    err = info.value
    assert err.what == "the thing failed (exit 3): two"
    assert err.hint == f"See the log {log}"
    assert (err.cmd, err.returncode, err.stderr_tail, err.log_path) == (cmd, 3, "one\ntwo", str(log))


def test_timeout_stops_the_child() -> None:
    with pytest.raises(ProcessError) as info:
        proc.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5, what="sleeper")
    assert info.value.what == "sleeper did not finish within 0.5s"
    assert info.value.returncode is None


def test_missing_binary_points_at_doctor() -> None:
    with pytest.raises(ProcessError) as info:
        proc.run(["no-such-binary-xyz"], timeout=5, what="testing")
    assert info.value.what == "no-such-binary-xyz is not installed (needed for: testing)"
    assert "kit doctor" in info.value.hint


def test_check_false_returns_the_code() -> None:
    assert proc.run([sys.executable, "-c", "raise SystemExit(4)"], timeout=30, check=False).returncode == 4


def test_input_is_fed() -> None:
    res = proc.run(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], timeout=30, input="hi"
    )
    assert res.stdout.strip() == "HI"
