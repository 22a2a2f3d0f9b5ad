"""``ResultStore``: autotune's trial records in the database that holds the Optuna study."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic.util import CommandError
from sqlalchemy import ColumnElement, CursorResult, column, delete, select, table
from sqlalchemy.orm import Session, sessionmaker

from autotune.errors import InputError
from autotune.values import TrialRecord
from storage._engine import (
    SQLITE_BEGIN,
    describe,
    input_error,
    is_environment_error,
    open_engine,
)
from storage._models import TrialResultRow, row_values, to_record
from storage._schema import current_revision, head_revision, upgrade

# Optuna's table of trials (its schema, not ours): ``add`` reads a trial's state there.
_OPTUNA_TRIALS = table("trials", column("trial_id"), column("state"))


class SchemaRevisionError(InputError):
    """The database's autotune tables are at another schema revision than this autotune's."""


def default_storage_url(directory: Path | None = None) -> str:
    """The SQLite URL of ``autotune.db`` in ``directory`` (the working directory by default)."""
    path = ((directory or Path.cwd()) / "autotune.db").absolute()
    return f"sqlite:///{path}"


class ResultStore:
    """Trial records keyed by Optuna trial id, stored next to (never inside) Optuna's tables.

    Opening a store upgrades autotune's tables to the newest revision; ``read_only=True``
    neither migrates nor writes (for the dashboard) and requires the schema to be current.
    Every database failure the user can cause or fix raises ``InputError``.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._engine = open_engine(url, read_only=read_only)
        # Writers take SQLite's write lock when they begin, not halfway through.
        self._writer = self._engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._reads = sessionmaker(self._engine, expire_on_commit=False)
        self._writes = sessionmaker(self._writer, expire_on_commit=False)
        try:
            self._open_schema()
        except BaseException:
            self._engine.dispose()
            raise

    def _open_schema(self) -> None:
        try:
            if self.read_only:
                with self._engine.connect() as connection:
                    revision = current_revision(connection)
                self._check_revision(revision)
                return
            with self._writer.begin() as connection:
                upgrade(connection)
        except CommandError as e:  # e.g. a revision made by a newer autotune
            raise input_error(self.url, e) from e
        except Exception as e:
            if is_environment_error(e):
                raise input_error(self.url, e) from e
            raise

    def _check_revision(self, revision: str | None) -> None:
        head = head_revision()
        if revision is None:
            raise InputError(
                f"result database {describe(self.url)}: holds no autotune results "
                "(open it writable once to create the tables)"
            )
        if revision != head:
            remedy = (
                "`autotune study --resume` or `autotune worker` on it upgrades it"
                if revision < head
                else "use the newer autotune that wrote it"
            )
            raise SchemaRevisionError(
                f"result database {describe(self.url)}: is at autotune schema revision "
                f"{revision}, this autotune reads {head}; {remedy}"
            )

    def close(self) -> None:
        """Close the pooled connections; a store used again afterwards opens new ones."""
        self._engine.dispose()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        with self._session(self._reads if self.read_only else self._writes) as session:
            yield session

    @contextmanager
    def _session(self, factory: sessionmaker[Session]) -> Iterator[Session]:
        try:
            with factory.begin() as session:
                yield session
        except Exception as e:
            if is_environment_error(e):
                raise input_error(self.url, e) from e
            raise

    def add(self, record: TrialRecord, *, while_running: bool = False) -> bool:
        """Store ``record``, replacing the record stored for the same Optuna trial id if any.

        Replacing (rather than ignoring) makes ``add`` a plain "the stored record is this one",
        also when SQLite reused the id of a trial whose study Optuna deleted. With
        ``while_running`` the record is stored only if its Optuna trial is still running, in
        the transaction that checks it (the trial's row is locked until the record is in), so a
        trial another worker has just failed as dead gets no record; returns whether it was
        stored.
        """
        self._require_writable("add a trial record")
        values = row_values(record)
        with self._session(self._writes) as session:
            if while_running:
                state = session.scalar(
                    select(_OPTUNA_TRIALS.c.state)
                    .where(_OPTUNA_TRIALS.c.trial_id == record.optuna_trial_id)
                    .with_for_update()
                )
                if state != "RUNNING":
                    return False
            row = session.scalar(
                select(TrialResultRow).where(
                    TrialResultRow.optuna_trial_id == record.optuna_trial_id
                )
            )
            if row is None:
                session.add(TrialResultRow(**values))
                return True
            for name, value in values.items():
                setattr(row, name, value)
            return True

    def records(self, study_name: str) -> list[TrialRecord]:
        """Every record of the study, by trial number."""
        query = (
            select(TrialResultRow)
            .where(TrialResultRow.study_name == study_name)
            .order_by(TrialResultRow.trial_number, TrialResultRow.id)
        )
        with self._session(self._reads) as session:
            return [to_record(row) for row in session.scalars(query)]

    def record(self, study_name: str, trial_number: int) -> TrialRecord | None:
        """The record of one trial of the study, ``None`` if none was stored."""
        query = (
            select(TrialResultRow)
            .where(
                TrialResultRow.study_name == study_name,
                TrialResultRow.trial_number == trial_number,
            )
            .order_by(TrialResultRow.id.desc())  # the newest, if a study name was reused
            .limit(1)
        )
        with self._session(self._reads) as session:
            row = session.scalar(query)
            return None if row is None else to_record(row)

    def delete_study(self, study_name: str) -> int:
        """Delete every record of the study (not the Optuna study); returns how many."""
        return self._delete("a study's records", TrialResultRow.study_name == study_name)

    def delete_trial(self, optuna_trial_id: int) -> int:
        """Delete the record of one Optuna trial (one that died); returns how many."""
        return self._delete("a trial record", TrialResultRow.optuna_trial_id == optuna_trial_id)

    def _delete(self, what: str, condition: ColumnElement[bool]) -> int:
        self._require_writable(f"delete {what}")
        with self._session(self._writes) as session:
            result = session.execute(delete(TrialResultRow).where(condition))
            # A DELETE's result is always a CursorResult, which the stubs do not say.
            return cast("CursorResult[Any]", result).rowcount

    def _require_writable(self, action: str) -> None:
        if self.read_only:
            shown = describe(self.url)
            raise InputError(f"result database {shown} is open read-only: cannot {action}")
