"""The `kit` command line: parse, call one library function, render. Nothing imports this package
but its console script; each family of commands has its module, registered on the group here."""

from __future__ import annotations

from kit.cli import bench_command, env_commands, model_commands, report_commands
from kit.cli.base import cli

#: The command modules register themselves on `cli` when imported.
COMMANDS = (env_commands, model_commands, bench_command, report_commands)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="kit")
