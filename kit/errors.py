"""Errors a user can act on.

Every expected failure is a `KitError` carrying what happened and what to do next; the CLI prints
them as one `Error:` line and one `Hint:` line. This module imports nothing from kit so that every
other module (the shipped load engine excepted) can raise these without cycles.
"""

from __future__ import annotations


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
