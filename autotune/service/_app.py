"""The FastAPI application and ``serve``: where it listens, and the request-size limit."""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autotune import __version__
from autotune.errors import InputError
from autotune.service import _errors
from autotune.service._auth import Gate
from autotune.service._errors import BodyTooLarge, error_response
from autotune.service._reads import Reads
from autotune.service._routes import router

MAX_BODY = 64 * 1024  # bytes; a search-space document is a few hundred


class BodyLimit:
    """Answers 413 to a request body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        too_large = BodyTooLarge(f"request body over {self.limit} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            if not declared.isdigit():
                too_large = BodyTooLarge("Content-Length is not a number")
            await error_response(too_large)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise too_large
            return message

        await self.app(scope, limited, send)


def create_app(url: str, max_body: int = MAX_BODY) -> FastAPI:
    """The API over the database at ``url`` (its tables are created or upgraded now)."""
    app = FastAPI(
        title="autotune",
        version=__version__,
        description="Queue deployment studies, follow them, fetch their recommendation.",
    )
    app.state.reads = Reads(url)
    app.state.gate = Gate(app.state.reads.store)
    app.include_router(router)
    _errors.install(app)
    app.add_middleware(BodyLimit, limit=max_body)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(url: str, host: str = "127.0.0.1", port: int = 8000, **uvicorn_args: Any) -> None:
    """Serve the API with uvicorn; a non-loopback ``host`` only once a token exists."""
    import uvicorn

    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a TCP port (1-65535)")
    app = create_app(url)
    if not is_loopback(host) and not app.state.gate.required():
        raise InputError(
            f"--host {host} is not a loopback address and the database holds no token: "
            "create one first (`autotune token create --scope read`), so that the API is "
            "not open to the network"
        )
    # Background refreshes compute in threads: hand the GIL back to the event loop sooner
    # (Python's default lets a thread keep it 5 ms), so requests are not held up behind them.
    sys.setswitchinterval(0.001)
    uvicorn.run(app, host=host, port=port, **uvicorn_args)


__all__ = ["MAX_BODY", "BodyLimit", "create_app", "is_loopback", "serve"]
