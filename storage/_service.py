"""``ServiceStore``: the study queue and the API tokens, beside the results in one database.

Claims are safe across processes and machines: on PostgreSQL a worker locks the row it claims
with ``SELECT ... FOR UPDATE SKIP LOCKED`` (another worker skips it rather than waits); on
SQLite the writer's ``BEGIN IMMEDIATE`` holds the database's write lock for the claim.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, column, exists, func, select, table, update
from sqlalchemy.exc import IntegrityError

from autotune.errors import ConflictError
from storage._service_models import (
    CANCELLED,
    DONE,
    FAILED,
    OPEN_STATES,
    QUEUED,
    RUNNING,
    QueuedStudy,
    QueueRow,
    StoredToken,
    TokenRow,
    queued_of,
    utc_now,
)
from storage._store import ResultStore

# Optuna's table of studies (its schema, not ours): a running study is joined once it exists.
_OPTUNA_STUDIES = table("studies", column("study_name"))


class ServiceStore(ResultStore):
    """The results store plus the queue of submitted studies and the API tokens."""

    # -- the queue -------------------------------------------------------------------------

    def submit(self, study: QueuedStudy) -> QueuedStudy:
        """Queue ``study``; ``ConflictError`` if a queued study already has its name."""
        self._require_writable("queue a study")
        row = QueueRow(
            name=study.name,
            state=QUEUED,
            space=dict(study.space),
            goals=dict(study.goals),
            trials=study.trials,
            sampler=study.sampler,
            seed=study.seed,
            submitted_by=study.submitted_by,
        )
        try:
            with self._session(self._writes) as session:
                session.add(row)
                session.flush()
                return queued_of(row)
        except IntegrityError as e:
            raise ConflictError(f"a study named {study.name!r} is already queued") from e

    def queued(self, name: str) -> QueuedStudy | None:
        """The queue entry of study ``name``, ``None`` if it was never queued."""
        with self._session(self._reads) as session:
            row = session.scalar(select(QueueRow).where(QueueRow.name == name))
            return None if row is None else queued_of(row)

    def queue(self) -> list[QueuedStudy]:
        """Every queue entry, oldest first."""
        with self._session(self._reads) as session:
            return [queued_of(r) for r in session.scalars(select(QueueRow).order_by(QueueRow.id))]

    def queue_counts(self) -> dict[str, int]:
        """How many queue entries are in each state."""
        query = select(QueueRow.state, func.count()).group_by(QueueRow.state)
        with self._session(self._reads) as session:
            return {state: int(n) for state, n in session.execute(query).all()}

    def claim(self) -> tuple[QueuedStudy, bool] | None:
        """The oldest study a worker can work on, and whether this claim started it.

        A queued study is marked running by the worker that claims it first; a running study
        is shared by every worker that claims it once its Optuna study exists (its first worker
        creates that). Needs Optuna's tables in the database (a writer's Optuna storage makes
        them). ``None`` when there is nothing to do.
        """
        self._require_writable("claim a queued study")
        started = exists().where(_OPTUNA_STUDIES.c.study_name == QueueRow.name)
        query = (
            select(QueueRow)
            .where((QueueRow.state == QUEUED) | ((QueueRow.state == RUNNING) & started))
            .order_by(QueueRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite holds the write lock
        )
        with self._session(self._writes) as session:
            row = session.scalar(query)
            if row is None:
                return None
            first = row.state == QUEUED
            if first:
                row.state, row.started_at = RUNNING, utc_now()
            return queued_of(row), first

    def finish(self, name: str, *, error: str | None = None) -> bool:
        """Mark a running study done (or failed with ``error``); a cancelled one stays so."""
        state = DONE if error is None else FAILED
        return self._move(name, (RUNNING,), state, error)

    def cancel(self, name: str) -> bool:
        """Cancel a queued or running study; whether it was open."""
        return self._move(name, OPEN_STATES, CANCELLED, None)

    def _move(self, name: str, sources: tuple[str, ...], state: str, error: str | None) -> bool:
        self._require_writable(f"mark study {name!r} {state}")
        change = (
            update(QueueRow)
            .where(QueueRow.name == name, QueueRow.state.in_(sources))
            .values(state=state, error=error, finished_at=utc_now())
        )
        with self._session(self._writes) as session:
            return cast("CursorResult[Any]", session.execute(change)).rowcount == 1

    def state(self, name: str) -> str | None:
        """The queue state of study ``name`` (one small read, between trials)."""
        with self._session(self._reads) as session:
            return session.scalar(select(QueueRow.state).where(QueueRow.name == name))

    # -- tokens ----------------------------------------------------------------------------

    def add_token(self, token: StoredToken) -> None:
        self._require_writable("create a token")
        with self._session(self._writes) as session:
            session.add(
                TokenRow(
                    public_id=token.public_id,
                    name=token.name,
                    scope=token.scope,
                    salt=token.salt,
                    digest=token.digest,
                )
            )

    def token(self, public_id: str) -> StoredToken | None:
        with self._session(self._reads) as session:
            row = session.scalar(select(TokenRow).where(TokenRow.public_id == public_id))
            if row is None:
                return None
            return StoredToken(row.public_id, row.name, row.scope, row.salt, row.digest)

    def has_tokens(self) -> bool:
        with self._session(self._reads) as session:
            return session.scalar(select(func.count()).select_from(TokenRow)) != 0


__all__ = ["ServiceStore"]
