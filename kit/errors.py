"""Errors a user can act on.

Every expected failure is a `KitError` carrying what happened and what to do next; the CLI prints
them as one `Error:` line and one `Hint:` line. This module imports nothing from kit so that every
other module (the shipped load engine excepted) can raise these without cycles.
"""

from __future__ import annotations

import os


class KitError(Exception):
    """A failure the user can do something about."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.what} (hint: {self.hint})"


class UsageError(KitError):
    """Bad input on the command line or in the config: the CLI exits 2 for these."""


class PrerequisiteError(KitError):
    """Something the kit needs on the controller is missing."""


class ProcessError(KitError):
    """A subprocess failed; carries the command, exit code, stderr tail and log path."""

    def __init__(
        self,
        what: str,
        hint: str,
        *,
        cmd: list[str],
        returncode: int | None,
        stderr_tail: str,
        log_path: str | None,
    ) -> None:
        super().__init__(what, hint)
        self.cmd = cmd
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.log_path = log_path


class HostError(KitError):
    """A host did not answer or a service on it misbehaved; names the host."""

    def __init__(self, what: str, hint: str, *, host: str) -> None:
        super().__init__(what, hint)
        self.host = host


class DiskFullError(KitError):
    """The controller's disk (results, workspace) is full: a bench stops instead of failing cell after
    cell, and whatever was half-written is removed, never left under its final name."""


def write_error(path: object, errno_: int | None, detail: str, kept: str = "") -> KitError:
    """The error for a file that could not be written: DiskFullError when the disk or quota is full
    (ENOSPC 28, EDQUOT 122 on Linux), else a KitError about the folder. `kept` says where the data
    still is (a host's copy), when it is somewhere."""
    where = f"; {kept}" if kept else ""
    if errno_ in (28, 122):
        return DiskFullError(
            f"could not write {path}: {detail} (the disk is full)",
            f"Free some disk space and rerun; nothing half-written was left behind{where}",
        )
    folder = os.path.dirname(str(path)) or "."
    return KitError(
        f"could not write {path}: {detail}",
        f"Check that {folder} is writable; nothing half-written was left behind{where}",
    )
