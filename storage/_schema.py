"""Schema migrations of autotune's tables, run programmatically with Alembic."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

# Optuna's Alembic owns ``alembic_version``; sharing it would make each side see the other's
# revision as unknown.
VERSION_TABLE = "autotune_alembic_version"
_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: serialises concurrent first opens of one PostgreSQL database.
_PG_LOCK_KEY = 0x6175746F74756E65
# Alembic runs a migration through module-global proxies (``alembic.context``, ``alembic.op``):
# two threads of one process must not migrate at the same time, even different databases.
_ALEMBIC_LOCK = threading.Lock()


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of autotune knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "storage/migrations/versions has no revision"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, ``None`` before the first migration."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: Connection) -> None:
    """Bring autotune's tables to the head revision, inside the caller's transaction.

    All pending revisions commit together or not at all (PostgreSQL and, with the engine's
    explicit ``BEGIN``, SQLite both run DDL transactionally), so no half-migrated database is
    left behind. Two processes opening a new database at once are serialised: on SQLite by the
    caller's ``BEGIN IMMEDIATE``, on PostgreSQL by an advisory lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    if current_revision(connection) == head_revision():
        return
    with _ALEMBIC_LOCK:
        command.upgrade(_config(connection), "head")
