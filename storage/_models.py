"""The ORM model of autotune's results table and its conversion to and from ``TrialRecord``.

The model has its own ``MetaData``: Optuna creates and migrates its tables from its own, and
neither side's ``create_all`` or migrations may ever touch the other's tables.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Double,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from autotune import __version__
from storage._records import TrialRecord

# The tuple fields of TrialRecord, stored as JSON lists.
_JSON_TUPLES = ("group_sizes", "core_utilization", "stages")


class Base(DeclarativeBase):
    metadata = MetaData()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TrialResultRow(Base):
    """One row per Optuna trial: ``TrialRecord`` field for field, plus bookkeeping that
    storage fills itself (``id``, ``created_at``, ``autotune_version``)."""

    __tablename__ = "autotune_trial_results"
    __table_args__ = (
        UniqueConstraint("optuna_trial_id", name="uq_autotune_trial_results_optuna_trial_id"),
        # Serves both "all records of a study" and "one trial of a study", in trial order.
        Index("ix_autotune_trial_results_study_trial", "study_name", "trial_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utc_now)
    # The release that last wrote the row: a study resumed after an upgrade holds records of
    # several releases, while the study's own ``autotune_version`` attribute names the first.
    autotune_version: Mapped[str] = mapped_column(
        String(255), default=__version__, onupdate=__version__
    )
    # No foreign key to Optuna's trials table: its schema is Optuna's to change, and the results
    # table must be creatable before Optuna's tables exist.
    optuna_trial_id: Mapped[int]
    study_name: Mapped[str] = mapped_column(String(512))  # Optuna's own limit
    trial_number: Mapped[int]
    model: Mapped[str] = mapped_column(String(255))
    task: Mapped[str] = mapped_column(String(255))
    seq_len: Mapped[int]
    instance_type: Mapped[str] = mapped_column(String(255))
    batch_size: Mapped[int]
    pipeline_cores: Mapped[int]
    group_sizes: Mapped[list[int]] = mapped_column(JSON)
    concurrency: Mapped[int]
    price_set: Mapped[str] = mapped_column(String(255))
    throughput: Mapped[float] = mapped_column(Double)
    latency_p50_ms: Mapped[float] = mapped_column(Double)
    latency_p95_ms: Mapped[float] = mapped_column(Double)
    latency_p99_ms: Mapped[float] = mapped_column(Double)
    latency_mean_ms: Mapped[float] = mapped_column(Double)
    cost_per_hour_usd: Mapped[float] = mapped_column(Double)
    cost_per_1m_usd: Mapped[float] = mapped_column(Double)
    fleet_size: Mapped[int | None]
    bottleneck: Mapped[str] = mapped_column(String(255))
    bottleneck_detail: Mapped[str] = mapped_column(Text)
    core_utilization: Mapped[list[float]] = mapped_column(JSON)
    host_utilization: Mapped[float] = mapped_column(Double)
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    plan_key: Mapped[str] = mapped_column(String(255))
    compile_seconds: Mapped[float] = mapped_column(Double)
    numeric_error: Mapped[float | None] = mapped_column(Double)
    emulator_version: Mapped[str] = mapped_column(String(255))
    seed: Mapped[int] = mapped_column(BigInteger)


def row_values(record: TrialRecord) -> dict[str, Any]:
    """The column values of ``record``, tuples turned into JSON lists."""
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(TrialRecord)}
    values["group_sizes"] = list(record.group_sizes)
    values["core_utilization"] = list(record.core_utilization)
    values["stages"] = [dict(stage) for stage in record.stages]
    return values


def to_record(row: TrialResultRow) -> TrialRecord:
    """The frozen record a row holds."""
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(TrialRecord)}
    for name in _JSON_TUPLES:
        values[name] = tuple(values[name])
    return TrialRecord(**values)
