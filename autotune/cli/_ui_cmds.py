"""The ``ui`` command: the Streamlit dashboard over a study database."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from autotune.cli._app import app
from autotune.errors import InputError


def app_path() -> Path:
    """``ui/app.py`` of the installed ``ui`` package."""
    import ui

    return Path(ui.__file__).parent / "app.py"


def streamlit_command(url: str, port: int) -> list[str]:
    """The ``streamlit run`` command line that serves the dashboard over ``url``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        # Streamlit's own menu (Deploy, Rerun, Settings...) down to what a reader needs.
        "--client.toolbarMode",
        "minimal",
        "--",
        "--storage",
        url,
    ]


def _die_with_parent() -> None:
    """In the Streamlit child, before it starts: the kernel sends it SIGTERM if its parent
    (``autotune ui``) dies, however it dies (``kill -9`` included). Linux only; elsewhere the
    signal handlers below still stop it on SIGTERM and Ctrl-C."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(command: list[str]) -> int:
    """Run the dashboard server as a child that never outlives this process."""
    child = subprocess.Popen(command, preexec_fn=_die_with_parent)

    def stop(signum: int, _frame: FrameType | None) -> None:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
        raise SystemExit(128 + signum if signum != signal.SIGINT else 0)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    return child.wait()


@app.command()
def ui(
    storage: Annotated[
        str | None,
        typer.Option(
            help="Database URL (default: $AUTOTUNE_STORAGE, else sqlite:///autotune.db here)"
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port the dashboard listens on")] = 8501,
) -> None:
    """Open the dashboard: Pareto fronts, best configs, trial detail, export (read-only)."""
    from autotune.cli._results import url_of

    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a TCP port (1-65535)")
    url = url_of(storage)
    typer.echo(f"autotune dashboard on http://localhost:{port} (results: {url}, read-only)")
    code = serve(streamlit_command(url, port))
    if code:
        raise typer.Exit(code)
