"""What every `kit` command shares: the group, its error handling, the consoles and the common
options. The commands live beside this module, one module per family."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from kit import __version__, config
from kit.context import Context
from kit.errors import KitError, UsageError
from kit.ids import PROVIDERS

out = Console()
err = Console(stderr=True)


class State:
    def __init__(self, config_path: Path | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug

    def context(self) -> Context:
        return Context(config.load(self.config_path))


@contextmanager
def live(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner whose line follows the stage's progress messages (stderr, so --json stays clean)."""
    with err.status(title) as status:

        def update(message: str) -> None:
            if message:
                status.update(f"{title}: {message[:120]}")

        yield update


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--json`: the same data as the table, machine-readable, on stdout (progress stays on stderr)."""
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def provider_option(default: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--provider`, its choices from kit.ids.PROVIDERS."""
    return click.option(
        "--provider", type=click.Choice(PROVIDERS), default=default, show_default=default is not None
    )


INTERRUPTED_HINT = "rows measured so far are kept and their cell marked partial; `kit down` cleans up"


class KitGroup(click.Group):
    """Turns every expected failure into one `Error:` and one `Hint:` line and the exit code.

    KitError exits 1 (UsageError 2, like Click's own usage errors); Ctrl-C exits 130. With --debug the
    traceback comes first.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "kit"
            click.echo(f"Error: {exc.format_message()}", err=True)
            click.echo(f"Hint: run `{where} --help` for usage", err=True)
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            click.echo("Hint: run `kit --help` for usage", err=True)
            code = exc.exit_code
        except click.exceptions.Abort:
            click.echo("Error: interrupted", err=True)
            click.echo(f"Hint: {INTERRUPTED_HINT}", err=True)
            code = 130
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KitError as exc:
            if "--debug" in sys.argv[1:] or (ctx.obj is not None and getattr(ctx.obj, "debug", False)):
                traceback.print_exc()
            click.echo(f"Error: {exc.what}", err=True)
            click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(2 if isinstance(exc, UsageError) else 1)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            click.echo(f"Hint: {INTERRUPTED_HINT}", err=True)
            ctx.exit(130)


@click.group(cls=KitGroup)
@click.version_option(__version__, prog_name="kit")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="KIT_CONFIG",
    help="Experiment config (TOML). Default: built-in defaults.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Measure what model-serving frameworks really cost."""
    ctx.obj = State(config_path, debug)
