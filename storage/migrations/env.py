"""Alembic environment of autotune's own tables.

Runs only on a connection handed over by ``storage._schema.upgrade`` (in
``config.attributes["connection"]``), inside the transaction that the caller opened. New
revisions are written by hand beside ``0001`` with explicit ``op`` calls; the contract tests
fail until the migrated schema matches the models.
"""

from __future__ import annotations

from alembic import context

from storage._models import Base
from storage._schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("autotune's migrations run through storage.ResultStore, not the CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # Optuna keeps its own revision in ``alembic_version``; ours must live elsewhere.
    version_table=VERSION_TABLE,
    # Never look at (or autogenerate against) Optuna's tables.
    include_name=lambda name, type_, _parent: type_ != "table" or name in Base.metadata.tables,
    render_as_batch=True,  # SQLite can only ALTER a table by copying it
)
with context.begin_transaction():
    context.run_migrations()
