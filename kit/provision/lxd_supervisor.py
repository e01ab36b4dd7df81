"""Run a daemon as the child of a process that reaps every orphan.

PID 1 on the machines this kit targets (firecracker-style sandboxes, some CI runners) does not reap
orphans, and LXD's container monitors double-fork: without a subreaper their exits pile up as
zombies. This tiny supervisor marks itself a child subreaper, starts the daemon, reaps everything
that ends under it, forwards SIGTERM/SIGINT, and exits with the daemon's status.

Usage: python -m kit.provision.lxd_supervisor PROGRAM [ARGS...]
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    _become_subreaper()
    # The one subprocess outside kit/proc.py: this module must stay importable without the rest of
    # kit (it runs detached, possibly after the kit's virtualenv changed), and it owns its child for
    # the child's whole life.
    child = subprocess.Popen(argv)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while True:
        try:
            pid, wstatus = os.wait()
        except ChildProcessError:
            return status
        except InterruptedError:
            continue
        if pid == child.pid:
            status = os.waitstatus_to_exitcode(wstatus)
            child.returncode = status
            # Keep reaping what the daemon left behind, then leave.
            _drain()
            return status


def _drain() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
