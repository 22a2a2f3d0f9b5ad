"""The first table: one row of autotune results per Optuna trial.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TABLE = "autotune_trial_results"


def upgrade() -> None:
    # Written out column by column rather than from the models: a migration is a snapshot of the
    # schema at its revision and must not change when the models do.
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("optuna_trial_id", sa.Integer(), nullable=False),
        sa.Column("study_name", sa.String(512), nullable=False),
        sa.Column("trial_number", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("seq_len", sa.Integer(), nullable=False),
        sa.Column("instance_type", sa.String(255), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("pipeline_cores", sa.Integer(), nullable=False),
        sa.Column("group_sizes", sa.JSON(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("price_set", sa.String(255), nullable=False),
        sa.Column("throughput", sa.Double(), nullable=False),
        sa.Column("latency_p50_ms", sa.Double(), nullable=False),
        sa.Column("latency_p95_ms", sa.Double(), nullable=False),
        sa.Column("latency_p99_ms", sa.Double(), nullable=False),
        sa.Column("latency_mean_ms", sa.Double(), nullable=False),
        sa.Column("cost_per_hour_usd", sa.Double(), nullable=False),
        sa.Column("cost_per_1m_usd", sa.Double(), nullable=False),
        sa.Column("fleet_size", sa.Integer(), nullable=True),
        sa.Column("bottleneck", sa.String(255), nullable=False),
        sa.Column("bottleneck_detail", sa.Text(), nullable=False),
        sa.Column("core_utilization", sa.JSON(), nullable=False),
        sa.Column("host_utilization", sa.Double(), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("plan_key", sa.String(255), nullable=False),
        sa.Column("compile_seconds", sa.Double(), nullable=False),
        sa.Column("numeric_error", sa.Double(), nullable=True),
        sa.Column("emulator_version", sa.String(255), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("optuna_trial_id", name="uq_autotune_trial_results_optuna_trial_id"),
    )
    op.create_index("ix_autotune_trial_results_study_trial", _TABLE, ["study_name", "trial_number"])


def downgrade() -> None:
    op.drop_index("ix_autotune_trial_results_study_trial", table_name=_TABLE)
    op.drop_table(_TABLE)
