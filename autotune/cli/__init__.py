"""The ``autotune`` command line. User mistakes end in one ``error:`` line and exit code 2."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from autotune import __version__
from autotune.cli import _emulator_cmds, _study_cmds
from autotune.cli._app import UsageError, app
from autotune.errors import AutotuneError

__all__ = ["_emulator_cmds", "_study_cmds", "app", "main"]


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def main() -> None:
    """Console entry point: one clean line and exit 2 for every user mistake."""
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except typer.Exit as e:
        code = e.exit_code
    except UsageError as e:  # bad flag, missing value, not an integer...
        if not e.format_message():  # type: ignore[attr-defined]  # bare `autotune`: the help was printed
            sys.exit(0)
        typer.echo(f"error: {e.format_message()}", err=True)  # type: ignore[attr-defined]
        sys.exit(2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except AutotuneError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
