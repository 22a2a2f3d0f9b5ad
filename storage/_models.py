"""The ORM model of autotune's results table and its conversion to and from ``TrialRecord``.

The model has its own ``MetaData``: Optuna creates and migrates its tables from its own, and
neither side's ``create_all`` or migrations may ever touch the other's tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from autotune import __version__
from autotune.values import Evaluation, TrialRecord


class Base(DeclarativeBase):
    metadata = MetaData()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TrialResultRow(Base):
    """One row per Optuna trial: its keys in columns, its ``Evaluation`` as JSON, plus
    bookkeeping that storage fills itself (``id``, ``created_at``, ``autotune_version``)."""

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
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)


def row_values(record: TrialRecord) -> dict[str, Any]:
    """The column values of ``record``."""
    return {
        "study_name": record.study_name,
        "optuna_trial_id": record.optuna_trial_id,
        "trial_number": record.trial_number,
        "evaluation": record.evaluation.to_dict(),
    }


def to_record(row: TrialResultRow) -> TrialRecord:
    """The frozen record a row holds."""
    return TrialRecord(
        row.study_name, row.optuna_trial_id, row.trial_number, Evaluation.from_dict(row.evaluation)
    )
