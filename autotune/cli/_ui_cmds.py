"""The ``ui`` command: the Streamlit dashboard over a study database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
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
        "--",
        "--storage",
        url,
    ]


@app.command()
def ui(
    storage: Annotated[
        str | None,
        typer.Option(
            help="Database URL (default: $AUTOTUNE_STORAGE, else sqlite:///autotune.db here)."
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port the dashboard listens on.")] = 8501,
) -> None:
    """Open the dashboard: Pareto fronts, best configs, trial detail, export (read-only)."""
    import os

    from storage import default_storage_url

    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a TCP port (1-65535)")
    url = storage or os.environ.get("AUTOTUNE_STORAGE") or default_storage_url()
    typer.echo(f"autotune dashboard on http://localhost:{port} (results: {url}, read-only)")
    try:
        code = subprocess.run(streamlit_command(url, port), check=False).returncode
    except KeyboardInterrupt:  # Ctrl-C stops the dashboard: the normal way to leave it
        return
    if code:
        raise typer.Exit(code)
