"""The ``autotune`` command line. User mistakes end in one ``error:`` line and exit code 2."""

from __future__ import annotations

import os
import sys
import threading
from typing import Annotated

import typer

from autotune import __version__
from autotune.cli import _emulator_cmds, _query_cmds, _service_cmds, _study_cmds, _ui_cmds
from autotune.cli._app import UsageError, app
from autotune.errors import AutotuneError

__all__ = [
    "_emulator_cmds",
    "_query_cmds",
    "_service_cmds",
    "_study_cmds",
    "_ui_cmds",
    "app",
    "main",
]


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def _given_value(param: object, argv: list[str]) -> str:
    """`` (got 'abc')`` for the option value a usage error is about, when it can be found."""
    for opt in getattr(param, "opts", ()):
        for i, arg in reversed(list(enumerate(argv))):  # click keeps the last occurrence
            if arg == opt and i + 1 < len(argv):
                return f" (got {argv[i + 1]!r})"
            if arg.startswith(opt + "="):
                return f" (got {arg.split('=', 1)[1]!r})"
    return ""


def _quiet_libraries() -> None:
    """The process-wide settings of the command line, and only of it (never of the library).

    A failed deployment is a trial outcome stored with its reason: Optuna's own log line (with a
    traceback) would only repeat it. Optuna's heartbeat helpers and TPE's ``consider_endpoints``
    are flagged experimental or deprecated: autotune uses them on purpose (see
    ``autotune.study._optuna``).
    """
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*consider_endpoints", category=FutureWarning)


def main() -> None:
    """Console entry point: one clean line and exit 2 for every user mistake."""
    _quiet_libraries()
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except typer.Exit as e:
        code = e.exit_code
    except UsageError as e:  # bad flag, missing value, not an integer...
        message = e.format_message()  # type: ignore[attr-defined]
        if not message:  # bare `autotune`: the help was printed
            sys.exit(0)
        given = _given_value(getattr(e, "param", None), sys.argv[1:])
        typer.echo(f"error: {message}{given}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        code = _INTERRUPTED
    except AutotuneError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except Exception as e:
        if not _raised_by_an_interrupt(e):
            raise
        code = _INTERRUPTED
    if code == _INTERRUPTED:  # Typer turns Ctrl-C into this exit code, silently
        typer.echo("interrupted; finished trials are kept", err=True)
        _exit_despite_stray_threads(code)
    sys.exit(code if isinstance(code, int) else 0)


_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _exit_despite_stray_threads(code: int) -> None:
    """Exit at once if a thread left running would keep the process alive.

    A Ctrl-C between Optuna starting a trial's heartbeat thread and entering the ``with`` block
    that stops it leaves that (non-daemon) thread beating forever, and Python would wait for it.
    The interrupted trial is then failed as dead by the next run, as after ``kill -9``.
    """
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _raised_by_an_interrupt(error: BaseException) -> bool:
    """Whether ``error`` replaced a Ctrl-C while it was being handled.

    Optuna 5 does that: a Ctrl-C landing inside its ``tell`` surfaces as an UnboundLocalError
    from ``_run_trial``'s cleanup, which would otherwise print a traceback and exit with 1.
    """
    seen: set[int] = set()
    context = error.__context__
    while context is not None and id(context) not in seen:
        if isinstance(context, KeyboardInterrupt):
            return True
        seen.add(id(context))
        context = context.__context__
    return False
