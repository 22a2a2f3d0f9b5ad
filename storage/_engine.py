"""Engines for the result database: SQLite tuned for several processes, PostgreSQL as is.

Every way a database can fail to open (bad URL, missing driver, no server, a file that is not
a database) becomes one ``InputError`` naming the URL here, at the boundary.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)

from autotune.errors import InputError

# Execution option that makes SQLite transactions start with BEGIN IMMEDIATE: a writer then
# takes the write lock up front and waits (busy_timeout) instead of failing when it upgrades
# a read lock that another process's commit made stale.
SQLITE_BEGIN = "autotune_sqlite_begin"
_BUSY_TIMEOUT_MS = 30_000
_PG_CONNECT_TIMEOUT_S = 10

# Errors that mean autotune itself issued a wrong statement: they stay as they are.
_BUGS = (IntegrityError, ProgrammingError, DataError)


def describe(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def input_error(url: str, error: Exception) -> InputError:
    """A one-line ``InputError`` naming the database and what went wrong with it."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return InputError(f"result database {describe(url)}: {lines[0].strip()}")


def is_environment_error(error: Exception) -> bool:
    """Whether a database error comes from the database's state, not from autotune's SQL."""
    return isinstance(error, DBAPIError) and not isinstance(error, _BUGS)


def open_engine(url: str, *, read_only: bool) -> Engine:
    """An engine for ``url``; raises ``InputError`` for a URL or driver that cannot work."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, parsed, read_only)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            connect_args = _postgresql_args(parsed, read_only)
        # pool_pre_ping: a connection the server dropped (a restart) is replaced, not used.
        return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except ArgumentError as e:
        raise InputError(
            f"{input_error(url, e)}; expected a URL such as sqlite:///autotune.db or "
            "postgresql+psycopg://user@host/db"
        ) from e
    except ImportError as e:
        raise input_error(url, e) from e


def _postgresql_args(url: URL, read_only: bool) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:  # an unreachable host must not hang the CLI
        args["connect_timeout"] = _PG_CONNECT_TIMEOUT_S
    if read_only:
        args["options"] = "-c default_transaction_read_only=on"
    return args


def _sqlite_engine(url: str, parsed: URL, read_only: bool) -> Engine:
    database = parsed.database or ":memory:"
    if database != ":memory:" and not parsed.query.get("uri"):
        path = Path(database).absolute()
        if not path.parent.is_dir():
            raise InputError(f"result database {url}: directory {path.parent} does not exist")
        if path.is_dir():
            raise InputError(f"result database {url}: {path} is a directory, not a database file")
        if read_only:
            if not path.is_file():
                raise InputError(f"result database {url}: no such file {path}")
            # SQLite's own read-only mode: not even a journal can be written.
            parsed = parsed.set(database=path.as_uri(), query={"uri": "true", "mode": "ro"})
        else:
            _check_writable(url, path)
    # sqlite3's own timeout applies from the first statement of every connection.
    engine = create_engine(parsed, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas(read_only))
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _check_writable(url: str, path: Path) -> None:
    # Checked here, because SQLite only says "unable to open database file" or fails the
    # first commit, deep inside whatever writes first.
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"result database {url}: file {path} is not writable")
    if not os.access(path.parent, os.W_OK):
        raise InputError(
            f"result database {url}: directory {path.parent} is not writable "
            "(SQLite writes its journal beside the database)"
        )


def serialize_sqlite(engine: Engine) -> None:
    """Make every transaction of ``engine`` (an Optuna storage's, say) take SQLite's write lock
    first: concurrent processes then queue on the busy timeout instead of two of them reading
    the same WAITING trial and both starting it."""
    event.listen(engine, "connect", _sqlite_pragmas(read_only=False))
    event.listen(engine, "begin", lambda c: c.exec_driver_sql("BEGIN IMMEDIATE"))
    engine.dispose()  # connections opened before the hooks were installed are dropped


def _sqlite_pragmas(read_only: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens no transaction before DDL, so a migration would autocommit statement
        # by statement; SQLAlchemy issues BEGIN itself instead (see _sqlite_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL needs a lock another opener may hold.
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if not read_only:  # WAL: Optuna workers and readers proceed while one process writes
            _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so). The switch needs an exclusive lock and SQLite may
    refuse it at once, busy timeout or not, while other connections open the new file: retry."""
    for attempt in range(200):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 199:
                raise
            time.sleep(0.01 * (1 + attempt % 10))


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) says the database cannot be reached
    or is busy right now: a server restart, a dropped connection, SQLite's lock held too long.
    Such errors pass; a worker or the API tries again instead of failing a study."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OperationalError | InterfaceError | DisconnectionError):
            return True
        if type(current).__module__.startswith("psycopg") and type(current).__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
