"""The service's tables: the study queue and the API tokens, with their frozen values.

Same ``MetaData`` as the results table (migrated together, revision 0004), never Optuna's.
A queued study keeps what it was asked for as JSON (the search-space document and the goals):
storage knows no search space, the study layer validates both before they get here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage._models import Base

# A queued study moves queued -> running -> done | failed, or to cancelled from either.
QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"
STATES = (QUEUED, RUNNING, DONE, CANCELLED, FAILED)
OPEN_STATES = (QUEUED, RUNNING)


def utc_now() -> datetime:
    return datetime.now(UTC)


class QueueRow(Base):
    """One study submitted through the service (API or dashboard)."""

    __tablename__ = "autotune_queue"
    __table_args__ = (
        UniqueConstraint("name", name="uq_autotune_queue_name"),
        # Claims look for the oldest open entry.
        Index("ix_autotune_queue_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512))  # Optuna's study-name limit
    state: Mapped[str] = mapped_column(String(16))
    space: Mapped[dict[str, Any]] = mapped_column(JSON)  # the validated search-space document
    goals: Mapped[dict[str, Any]] = mapped_column(JSON)  # objective, constraints, target load
    trials: Mapped[int]
    sampler: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    submitted_by: Mapped[str] = mapped_column(String(255))  # a token's name, or "local"
    error: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """An API token: its public id, scope and a salted hash of its secret (never the secret)."""

    __tablename__ = "autotune_tokens"
    __table_args__ = (UniqueConstraint("public_id", name="uq_autotune_tokens_public_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))  # hex
    digest: Mapped[str] = mapped_column(String(128))  # hex of the salted hash
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class QueuedStudy:
    """A study in the queue: what to run and where it stands."""

    name: str
    state: str
    space: Mapping[str, Any]
    goals: Mapping[str, Any]
    trials: int
    sampler: str = "tpe"
    seed: int | None = 0
    submitted_by: str = "local"
    error: str | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class StoredToken:
    public_id: str
    name: str
    scope: str
    salt: str
    digest: str


def queued_of(row: QueueRow) -> QueuedStudy:
    return QueuedStudy(
        name=row.name,
        state=row.state,
        space=dict(row.space),
        goals=dict(row.goals),
        trials=row.trials,
        sampler=row.sampler,
        seed=row.seed,
        submitted_by=row.submitted_by,
        error=row.error,
        submitted_at=aware(row.submitted_at),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
    )


def aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
