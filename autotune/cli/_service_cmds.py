"""``autotune serve`` (the REST API) and ``autotune token create`` (its tokens)."""

from __future__ import annotations

from typing import Annotated

import typer

from autotune.cli._app import app
from autotune.cli._results import Storage, url_of

token_app = typer.Typer(help="API tokens of `autotune serve`.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@app.command()
def serve(
    storage: Storage = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (non-loopback only once a token exists).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the REST API: queue studies, follow them, fetch recommendations (docs at /docs)."""
    from autotune.service import serve as run_server

    url = url_of(storage)
    typer.echo(f"autotune API on http://{host}:{port} (results: {url}; docs at /docs)", err=True)
    run_server(url, host, port)


@token_app.command("create")
def token_create(
    scope: Annotated[str, typer.Option(help="read (read endpoints) or submit (also queue).")],
    name: Annotated[str | None, typer.Option(help="Who holds it (shown as submitter).")] = None,
    storage: Storage = None,
) -> None:
    """Create an API token; it is printed once, on the last line, and stored only hashed."""
    from autotune.service import create_token
    from storage import ServiceStore

    store = ServiceStore(url_of(storage))
    try:
        token = create_token(store, scope, name)
    finally:
        store.close()
    typer.echo(f"created a {scope} token; it is shown once, keep it now:", err=True)
    typer.echo(token)
