"""The one place the kit starts subprocesses.

Every command gets a timeout, its output appended to a log file, and on failure a `ProcessError` that
carries the command, exit code, the tail of stderr and the log path, so that the CLI can print one
actionable line and the user can open the log for the rest.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from kit.errors import ProcessError

TAIL_LINES = 20


@dataclass(frozen=True)
class Result:
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    log_path: str | None


def quote(cmd: Sequence[str]) -> str:
    return shlex.join(str(c) for c in cmd)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def last_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _log(log: Path | None, cmd: Sequence[str], rc: int | None, out: str, err: str, secs: float) -> None:
    if log is None:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with log.open("a", encoding="utf-8", errors="replace") as fh:
        fh.write(f"\n=== {stamp} $ {quote(cmd)}\n=== exit {rc} after {secs:.1f}s\n")
        if out:
            fh.write("--- stdout\n" + out + ("" if out.endswith("\n") else "\n"))
        if err:
            fh.write("--- stderr\n" + err + ("" if err.endswith("\n") else "\n"))


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    log: Path | None = None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    what: str | None = None,
    hint: str | None = None,
    on_line: Callable[[str], None] | None = None,
    explain: Callable[[str], str] | None = None,
) -> Result:
    """Run `cmd` to completion and return its output.

    `env` is added to the current environment rather than replacing it, because every tool the kit
    drives (terraform, lxc, ssh) needs PATH and HOME. `on_line` sees every output line as it comes,
    so long stages can show live progress. On Ctrl-C or a timeout the child's whole process group is
    stopped before the error propagates, so nothing the kit started outlives it. `explain` turns a
    failed command's stderr into the error's one-line detail where its last line says too little.
    """
    argv = [str(c) for c in cmd]
    logged = str(log) if log else None
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ProcessError(
            f"{argv[0]} is not installed (needed for: {what or quote(argv)})",
            "Run `kit doctor` to see every missing prerequisite and how to install it.",
            cmd=argv,
            returncode=None,
            stderr_tail="",
            log_path=logged,
        ) from exc
    out_lines: list[str] = []
    err_lines: list[str] = []
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, out_lines, on_line), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err_lines, on_line), daemon=True),
    ]
    for t in readers:
        t.start()
    if input is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(input)
        proc.stdin.close()
    try:
        proc.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop(proc)
        timed_out = True
    except BaseException:
        _stop(proc)
        for t in readers:
            t.join(timeout=5)
        _log(log, argv, proc.returncode, "".join(out_lines), "".join(err_lines), time.monotonic() - start)
        raise
    for t in readers:
        t.join(timeout=5)
    secs = time.monotonic() - start
    out, err = "".join(out_lines), "".join(err_lines)
    _log(log, argv, None if timed_out else proc.returncode, out, err, secs)
    default_hint = f"See the log {log}" if log else "Rerun with --debug for details."
    if timed_out:
        raise ProcessError(
            f"{what or quote(argv[:3])} did not finish within {timeout:g}s",
            hint or default_hint,
            cmd=argv,
            returncode=None,
            stderr_tail=tail(err or out),
            log_path=logged,
        )
    if check and proc.returncode != 0:
        detail = (explain(err) if explain else "") or last_line(err) or last_line(out) or "no output"
        raise ProcessError(
            f"{what or quote(argv[:3])} failed (exit {proc.returncode}): {detail}",
            hint or default_hint,
            cmd=argv,
            returncode=proc.returncode,
            stderr_tail=tail(err or out),
            log_path=logged,
        )
    return Result(argv, proc.returncode, out, err, secs, logged)


def _pump(stream: IO[str] | None, sink: list[str], on_line: Callable[[str], None] | None) -> None:
    if stream is None:
        return
    for line in stream:
        sink.append(line)
        if on_line is not None:
            with contextlib.suppress(Exception):
                on_line(line.rstrip("\n"))
    stream.close()


def _stop(proc: subprocess.Popen[str], grace: float = 5.0) -> None:
    """Stop the child's whole process group: SIGTERM, then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait()


def spawn_daemon(
    cmd: Sequence[str | os.PathLike[str]], *, log: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start a long-lived daemon in its own session, output to `log`, and return its PID.

    Used only for daemons that must outlive the kit (the LXD supervisor): the kit remembers the PID
    it started so that it stops only processes it started.
    """
    argv = [str(c) for c in cmd]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise ProcessError(
                f"{argv[0]} is not installed",
                "Run `kit doctor` to see every missing prerequisite and how to install it.",
                cmd=argv,
                returncode=None,
                stderr_tail="",
                log_path=str(log),
            ) from exc
    return proc.pid
