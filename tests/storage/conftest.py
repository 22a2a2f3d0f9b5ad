"""Backends for the storage contract tests: a SQLite file, and a fresh PostgreSQL database.

PostgreSQL tests create their own database per test (dropped afterwards) through the server
named by ``AUTOTUNE_TEST_POSTGRES_URL`` (default: the local trust-auth server), and skip with
the reason when that server cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

POSTGRES_ADMIN_URL = os.environ.get(
    "AUTOTUNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the PostgreSQL server's maintenance database."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]'")
    engine = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as e:
        engine.dispose()
        reason = str(e.orig if hasattr(e, "orig") else e).splitlines()[0]
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {reason}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'autotune.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"autotune_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: stores and Optuna storages of the test may still hold pooled connections.
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
