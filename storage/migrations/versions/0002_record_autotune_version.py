"""Each record names the autotune release that wrote it.

The study keeps the release that created it (Optuna user attribute ``autotune_version``), but a
study resumed after an upgrade then holds records of several releases, and the cost, fleet and
objective figures of a record come from autotune's code, not only from the emulator that
``emulator_version`` names. Existing rows get ``0.1.0``: every autotune whose newest schema was
0001 is version 0.1.0, so the value is known, and the column can be ``NOT NULL``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TABLE = "autotune_trial_results"
# A snapshot, not ``autotune.__version__``: the release that wrote every revision-0001 row.
_RELEASE_OF_0001 = "0.1.0"


def upgrade() -> None:
    # Nullable first, filled, then NOT NULL: no server default is left behind to stamp rows
    # that autotune did not write. On SQLite the last step copies the table (batch mode).
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("autotune_version", sa.String(255), nullable=True))
    results = sa.table(_TABLE, sa.column("autotune_version", sa.String(255)))
    op.execute(results.update().values(autotune_version=_RELEASE_OF_0001))
    with op.batch_alter_table(_TABLE) as batch:
        batch.alter_column("autotune_version", existing_type=sa.String(255), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_column("autotune_version")
