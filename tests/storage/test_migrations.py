"""A database made by an older schema revision upgrades in place without losing a trial.

Each test builds its own database at revision 0001, as autotune 0.1.0 left it: the tables of
the project's own migration stopped at 0001, an Optuna study with completed trials, and records
inserted with SQLAlchemy Core into the table as the database holds it (reflected, not the
current model). The current code then opens it. Both backends run (see ``conftest.db_url``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import pytest
from alembic import command
from sqlalchemy import MetaData, Table, create_engine, select

import autotune
from autotune.errors import InputError
from storage import ResultStore, TrialRecord
from storage._engine import open_engine
from storage._models import row_values
from storage._schema import _ALEMBIC_LOCK, _config, current_revision, head_revision
from tests.study.helpers import run_cli

MakeRecord = Callable[..., TrialRecord]

_TABLE = "autotune_trial_results"
_STUDY = "s"


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Move autotune's tables to ``revision`` through the project's own migration config."""
    engine = open_engine(url, read_only=False)
    try:
        with _ALEMBIC_LOCK, engine.begin() as connection:
            (command.downgrade if down else command.upgrade)(_config(connection), revision)
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def _rows(url: str) -> dict[int, dict[str, Any]]:
    """Every column of every row of the results table, as the database holds it, by id."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            table = Table(_TABLE, MetaData(), autoload_with=connection)
            return {row.id: dict(row._mapping) for row in connection.execute(select(table))}
    finally:
        engine.dispose()


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=_STUDY, storage=url).trials


def _build_0001(url: str, make_record: MakeRecord) -> list[TrialRecord]:
    """A revision-0001 database with a 4-trial Optuna study; returns the records it holds."""
    _migrate(url, "0001")
    study = optuna.create_study(
        storage=url, study_name=_STUDY, sampler=optuna.samplers.RandomSampler(seed=3)
    )
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 1.0) ** 2, n_trials=4)
    records = [
        make_record(
            study_name=_STUDY,
            optuna_trial_id=trial._trial_id,
            trial_number=trial.number,
            latency_p50_ms=trial.values[0],
            throughput=100.0 + trial.number,
            seed=trial.number,
        )
        for trial in study.trials
    ]
    # A second study, and the nullable and empty values.
    records.append(
        make_record(
            study_name="other",
            optuna_trial_id=1000,
            fleet_size=3,
            numeric_error=None,
            stages=(),
        )
    )
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            table = Table(_TABLE, MetaData(), autoload_with=connection)
            connection.execute(
                table.insert(),
                [
                    {**row_values(r), "created_at": datetime(2026, 11, 1, 12, i, tzinfo=UTC)}
                    for i, r in enumerate(records)
                ],
            )
    finally:
        engine.dispose()
    assert _revision(url) == "0001"
    assert "autotune_version" not in _rows(url)[1]  # really the old schema
    return records


def _without_version(rows: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {
        id_: {k: v for k, v in row.items() if k != "autotune_version"} for id_, row in rows.items()
    }


def test_head_is_0002() -> None:
    # The tests below describe the 0001 -> 0002 upgrade; a new revision needs its own.
    assert head_revision() == "0002"


def test_a_0001_database_upgrades_without_losing_a_trial(
    db_url: str, make_record: MakeRecord
) -> None:
    records = _build_0001(db_url, make_record)
    rows_before, trials_before = _rows(db_url), _trials(db_url)

    store = ResultStore(db_url)  # what ``autotune study --resume`` opens first

    assert _revision(db_url) == head_revision()
    assert store.records(_STUDY) == records[:-1]
    assert store.records("other") == records[-1:]
    rows = _rows(db_url)
    assert _without_version(rows) == rows_before  # ids and created_at included
    assert {row["autotune_version"] for row in rows.values()} == {"0.1.0"}
    assert _trials(db_url) == trials_before
    assert [t.state for t in trials_before] == [optuna.trial.TrialState.COMPLETE] * 4

    # The study goes on: a new trial and its record, stamped with this release.
    study = optuna.load_study(study_name=_STUDY, storage=db_url)
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 1.0) ** 2, n_trials=1)
    new = study.trials[-1]
    store.add(make_record(study_name=_STUDY, optuna_trial_id=new._trial_id, trial_number=4))
    assert [r.trial_number for r in store.records(_STUDY)] == [0, 1, 2, 3, 4]
    stamped = [row for row in _rows(db_url).values() if row["optuna_trial_id"] == new._trial_id]
    assert [row["autotune_version"] for row in stamped] == [autotune.__version__]
    store.close()

    # Once upgraded, the dashboard's read-only open works.
    reader = ResultStore(db_url, read_only=True)
    assert reader.records("other") == records[-1:]
    reader.close()


def test_read_only_open_of_a_0001_database_refuses_and_changes_nothing(
    db_url: str, make_record: MakeRecord
) -> None:
    _build_0001(db_url, make_record)
    rows_before = _rows(db_url)

    with pytest.raises(InputError, match="revision 0001, this autotune reads 0002"):
        ResultStore(db_url, read_only=True)

    assert _revision(db_url) == "0001"
    assert _rows(db_url) == rows_before  # and still without the 0002 column


def test_listing_an_old_database_says_how_to_upgrade_it(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _build_0001(url, make_record)
    rows_before = _rows(url)
    for args in (["studies"], ["trials", "--study-name", "s"]):
        run = run_cli(tmp_path, *args, "--storage", url)
        assert run.code == 2
        (line,) = run.err.strip().splitlines()
        assert "revision 0001" in line and "autotune study --resume" in line
    assert _rows(url) == rows_before


def test_downgrade_to_0001_keeps_every_row(db_url: str, make_record: MakeRecord) -> None:
    records = _build_0001(db_url, make_record)
    rows_before = _rows(db_url)
    ResultStore(db_url).close()
    assert _revision(db_url) == "0002"

    _migrate(db_url, "0001", down=True)

    assert _revision(db_url) == "0001"
    assert _rows(db_url) == rows_before  # the 0002 column gone, every value kept
    store = ResultStore(db_url)  # and up again
    assert store.records(_STUDY) + store.records("other") == records
    store.close()
