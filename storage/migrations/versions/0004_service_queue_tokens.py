"""The service's tables: the queue of submitted studies and the API tokens.

``autotune_queue`` holds each study submitted through the API or the dashboard: what to run
(the validated search-space document and the goals as JSON, trials, sampler, seed), who
submitted it, and its state (queued, running, done, cancelled, failed) with timestamps. Workers
claim its rows. ``autotune_tokens`` holds API tokens as a public id, a scope and a salted hash
of the secret; the secret itself is printed once and never stored. No existing row changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Written out column by column, a snapshot of the schema at this revision (see 0001).
    op.create_table(
        "autotune_queue",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("space", sa.JSON(), nullable=False),
        sa.Column("goals", sa.JSON(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("sampler", sa.String(32), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("submitted_by", sa.String(255), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("name", name="uq_autotune_queue_name"),
    )
    op.create_index("ix_autotune_queue_state", "autotune_queue", ["state", "id"])
    op.create_table(
        "autotune_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_autotune_tokens_public_id"),
    )


def downgrade() -> None:
    op.drop_table("autotune_tokens")
    op.drop_index("ix_autotune_queue_state", table_name="autotune_queue")
    op.drop_table("autotune_queue")
