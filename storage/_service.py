"""``ServiceStore``: the study queue and the API tokens, beside the results in one database.

Claims are safe across processes and machines: on PostgreSQL a worker locks the row it claims
with ``SELECT ... FOR UPDATE SKIP LOCKED`` (another worker skips it rather than waits); on
SQLite the writer's ``BEGIN IMMEDIATE`` holds the database's write lock for the claim.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CursorResult,
    DateTime,
    String,
    column,
    exists,
    func,
    select,
    table,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError

from autotune.errors import ConflictError
from autotune.values import TrialRecord
from storage._models import TrialResultRow, to_record
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
    aware,
    queued_of,
    utc_now,
)
from storage._store import ResultStore

# Optuna's tables (its schema, not ours), read only: a running study is joined once it exists,
# a study's trial counts make the stamp of the API's answers, and trial times the metrics.
_OPTUNA_STUDIES = table("studies", column("study_id"), column("study_name"))
# Optuna's PostgreSQL schema keeps the state as an enum: compared and grouped as text.
_CLAIM_WINDOW = 20  # open entries looked at per claim (a few may be starting)
_OPTUNA_TRIALS = table(
    "trials",
    column("trial_id"),
    column("study_id"),
    column("state"),
    column("datetime_start", DateTime),
    column("datetime_complete", DateTime),
)

_TRIAL_STATE = sql_cast(_OPTUNA_TRIALS.c.state, String)


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

    def claim(self, stale_after_s: float = 300.0) -> tuple[QueuedStudy, bool] | None:
        """The oldest study a worker can work on, and whether this worker starts it.

        A queued study is marked running by the worker that claims it first, which creates its
        Optuna study; a running study is shared by every worker that claims it once that Optuna
        study exists. A running entry still without one ``stale_after_s`` after its start lost
        its first worker before it created the study: it is started again. Needs Optuna's tables
        (a writer's Optuna storage makes them). ``None`` when there is nothing to do.
        """
        self._require_writable("claim a queued study")
        started = exists().where(_OPTUNA_STUDIES.c.study_name == QueueRow.name)
        query = (
            select(QueueRow, started)
            .where(QueueRow.state.in_(OPEN_STATES))
            .order_by(QueueRow.id)
            .limit(_CLAIM_WINDOW)
            .with_for_update(skip_locked=True, of=QueueRow)  # SQLite holds the write lock
        )
        now = utc_now()
        with self._session(self._writes) as session:
            for row, has_study in session.execute(query).all():
                since = aware(row.started_at) or now
                if row.state == RUNNING and has_study:
                    return queued_of(row), False
                if row.state == QUEUED or (now - since).total_seconds() > stale_after_s:
                    row.state, row.started_at = RUNNING, now
                    session.flush()
                    return queued_of(row), True
        return None

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
            result: CursorResult[Any] = session.execute(change)  # type: ignore[assignment]
            return result.rowcount == 1

    def state(self, name: str) -> str | None:
        """The queue state of study ``name`` (one small read, between trials)."""
        with self._session(self._reads) as session:
            return session.scalar(select(QueueRow.state).where(QueueRow.name == name))

    def stamp(self, name: str) -> tuple[Any, ...]:
        """What changes whenever study ``name`` does: its queue state and its trials by state."""
        t, st = _OPTUNA_TRIALS, _OPTUNA_STUDIES
        counts = (
            select(_TRIAL_STATE, func.count(), func.max(t.c.trial_id))
            .select_from(t.join(st, st.c.study_id == t.c.study_id))
            .where(st.c.study_name == name)
            .group_by(_TRIAL_STATE)
        )
        with self._session(self._reads) as session:
            state = session.scalar(select(QueueRow.state).where(QueueRow.name == name))
            rows = sorted(tuple(r) for r in session.execute(counts).all())
        return (state, *rows)

    def records_after(self, study_name: str, after_id: int) -> list[tuple[int, TrialRecord]]:
        """The study's records stored after row ``after_id``, with their row ids: what a
        reader that keeps parsed records reads to catch up (rows only ever change when a record
        is checked or deleted, which a full ``records`` read sees)."""
        query = (
            select(TrialResultRow)
            .where(TrialResultRow.study_name == study_name, TrialResultRow.id > after_id)
            .order_by(TrialResultRow.id)
        )
        with self._session(self._reads) as session:
            return [(row.id, to_record(row)) for row in session.scalars(query)]

    def trial_times(self) -> tuple[dict[str, int], list[float]]:
        """Trials of every study by state, and how long each finished one took (seconds)."""
        t = _OPTUNA_TRIALS
        with self._session(self._reads) as session:
            by_state = select(_TRIAL_STATE, func.count()).group_by(_TRIAL_STATE)
            counts: dict[Any, Any] = dict(session.execute(by_state).all())
            spans = session.execute(
                select(t.c.datetime_start, t.c.datetime_complete).where(
                    _TRIAL_STATE.in_(("COMPLETE", "FAIL")),
                    t.c.datetime_start.is_not(None),
                    t.c.datetime_complete.is_not(None),
                )
            ).all()
        return (
            {str(k): int(v) for k, v in counts.items()},
            [(end - start).total_seconds() for start, end in spans],
        )

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
