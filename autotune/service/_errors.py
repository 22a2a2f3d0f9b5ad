"""Errors as HTTP answers, in one place: each error of the tree has its status code.

Every error answer is one JSON object ``{"error": kind, "message": one line, "status": code}``;
a server error never shows its traceback to the client (it goes to the server's log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from autotune.errors import AutotuneError, ConflictError, InputError, NotFoundError
from storage import SchemaRevisionError, database_unavailable

log = logging.getLogger("autotune.service")


class Unauthorized(AutotuneError):
    """No token, or one the server does not know."""


class Forbidden(AutotuneError):
    """A known token whose scope does not allow the request."""


class BodyTooLarge(InputError):
    """A request body over the server's limit."""


class Unavailable(AutotuneError):
    """The database cannot be reached right now (a restart, a network cut): try again."""


# First match wins: subclasses before their bases.
STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (BodyTooLarge, 413, "body_too_large"),
    (Unavailable, 503, "unavailable"),
    (SchemaRevisionError, 503, "schema_revision"),
    (InputError, 422, "invalid"),
)


class ErrorBody(BaseModel):
    """What every error answer holds."""

    error: str
    message: str
    status: int


def status_of(error: Exception) -> tuple[int, str]:
    """The status code and kind of ``error``; 500 for anything not of autotune's tree."""
    if database_unavailable(error):
        return 503, "unavailable"
    for kind, status, name in STATUS:
        if isinstance(error, kind):
            return status, name
    return 500, "internal"


def error_response(error: Exception) -> JSONResponse:
    status, kind = status_of(error)
    if status == 500:
        log.error("unexpected error", exc_info=error)
        message = "internal error (see the server's log)"
    elif status == 503 and kind == "unavailable":
        message = "the database is unavailable; try again shortly"
    else:
        message = str(error).splitlines()[0] if str(error) else kind
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = ErrorBody(error=kind, message=message, status=status)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    """The first problem of a request, naming its key (``space.batch_sizes: ...``)."""
    first = error.errors()[0]
    where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    key = ".".join(where) or "body"
    ctx = first.get("ctx") or {}
    message = (
        str(ctx["error"]) if first.get("type") == "value_error" and "error" in ctx else first["msg"]
    )
    return f"{key}: {message}"


def install(app: FastAPI) -> None:
    """Route every error of ``app`` through ``error_response``."""

    async def autotune_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(InputError(_validation_message(exc)))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if isinstance(exc.__cause__, AutotuneError):  # e.g. the body limit, hit while parsing
            return error_response(exc.__cause__)
        # 400: a body that is not even text (JSON that is not UTF-8).
        kinds = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        kind = kinds.get(exc.status_code, "http")
        body = ErrorBody(error=kind, message=str(exc.detail), status=exc.status_code)
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(AutotuneError, autotune_error)
    # A database that went away mid-request (a restart): 503, and the client tries again.
    app.add_exception_handler(DBAPIError, autotune_error)
    # Anything else is a bug: 500 without details (Starlette logs it and re-raises).
    app.add_exception_handler(Exception, autotune_error)


__all__ = [
    "STATUS",
    "BodyTooLarge",
    "ErrorBody",
    "Forbidden",
    "Unauthorized",
    "Unavailable",
    "error_response",
    "install",
    "status_of",
]
