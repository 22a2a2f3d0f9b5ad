"""The study's database: Optuna's storage with heartbeats, and a study's stored goals.

Every process that runs trials reports a heartbeat for its running trial. A trial whose heartbeat
stopped (its process died: Ctrl-C, ``kill -9``, a lost machine) is failed by the next worker
after the grace period, its record (if it got that far) is deleted, and the same deployment is
enqueued again. No trial is left running forever.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from datetime import datetime, timedelta
from typing import Any

import optuna
import sqlalchemy as sa

from autotune.errors import InputError
from autotune.study._optuna import RDB_MODELS, enqueued_params, trial_id
from autotune.study._settings import Goals, StudySettings
from autotune.study._space import SearchSpace, parse_space
from storage import ResultStore, input_error, serialize_sqlite

ATTR_SPACE, ATTR_GOALS = "autotune_space", "autotune_goals"


class _HeartbeatStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage that also sees trials dead before their first heartbeat.

    Optuna counts a running trial as stale only once it has a heartbeat. A process killed
    between starting a trial and its first heartbeat (the sampler runs in between) would leave
    that trial running forever; here it is stale once it started more than the grace period ago.
    """

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        trials = RDB_MODELS.TrialModel.__table__
        beats = RDB_MODELS.TrialHeartbeatModel.__table__
        # Optuna stamps datetime_start with the local clock of the process that started it.
        grace = self.grace_period or 2 * (self.heartbeat_interval or 0)
        started_before = datetime.now() - timedelta(seconds=grace)
        silent = (
            sa.select(trials.c.trial_id)
            .where(
                trials.c.study_id == study_id,
                trials.c.state == optuna.trial.TrialState.RUNNING.name,
                trials.c.datetime_start < started_before,
                ~sa.exists().where(beats.c.trial_id == trials.c.trial_id),
            )
            .order_by(trials.c.trial_id)
        )
        with self.engine.connect() as connection:
            return stale + [row.trial_id for row in connection.execute(silent)]


class _Reclaim:
    """What happens to a trial failed as dead: its record goes, its deployment is tried again."""

    def __init__(self, url: str) -> None:
        self.url = url
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # The process may have died after storing the record and before completing the trial.
        store = ResultStore(self.url)
        try:
            store.delete_trial(trial_id(trial))
        finally:
            store.close()
        if trial.params:
            self.retry(study, trial)
        elif fixed := enqueued_params(trial):  # died before its first suggest
            study.enqueue_trial(fixed)


def identity(space: SearchSpace, goals: Goals) -> tuple[str, str]:
    """The stored form of a study's space and goals: a study is continued only with the same."""
    return (
        json.dumps(space.stable_dump(), sort_keys=True),
        json.dumps(dataclasses.asdict(goals), sort_keys=True),
    )


# Seconds between heartbeats, and of silence after which a running trial counts as dead.
HEARTBEAT_S = int(os.environ.get("AUTOTUNE_HEARTBEAT_S", "5"))
GRACE_S = int(os.environ.get("AUTOTUNE_GRACE_S", "20"))


def rdb_storage(url: str, writer: bool = False) -> optuna.storages.RDBStorage:
    """Optuna's storage on ``url``; SQLite waits for a busy database instead of failing.

    A ``writer`` runs trials: each reports a heartbeat every few seconds, and one whose
    process died (Ctrl-C, ``kill -9``, a lost machine) is failed by the next worker after the
    grace period and enqueued again with the same parameters, never left running forever.
    SQLite writers take the write lock at the start of every transaction.
    """
    # A server's connections are checked before use, so a restarted database is reconnected.
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    beat: dict[str, Any] = {}
    if writer:
        beat = {
            "heartbeat_interval": HEARTBEAT_S,
            "grace_period": GRACE_S,
            "heartbeat_stale_trial_callback": _Reclaim(url),
        }
    try:
        with warnings.catch_warnings():  # the heartbeat arguments are experimental in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = _HeartbeatStorage(url, engine_kwargs=kwargs, **beat)
    except Exception as e:  # SQLAlchemy and Optuna raise many types for a bad database
        raise input_error(url, e) from e
    if writer and url.startswith("sqlite"):
        serialize_sqlite(storage.engine)
    return storage


def load_goals(study: optuna.Study) -> tuple[SearchSpace, Goals]:
    """The space and goals a study was created with."""
    attrs = study.user_attrs
    if ATTR_SPACE not in attrs or ATTR_GOALS not in attrs:
        raise InputError(f"study {study.study_name!r} was not created by autotune")
    space = parse_space(json.loads(attrs[ATTR_SPACE]), f"study {study.study_name!r}")
    return space, Goals(**json.loads(attrs[ATTR_GOALS]))


def save_goals(study: optuna.Study, settings: StudySettings, emulator_version: str) -> None:
    """Write what the study was asked for into Optuna's study attributes."""
    from autotune import __version__

    space_json, goals_json = identity(settings.space, settings.goals)
    study.set_user_attr(ATTR_SPACE, space_json)
    study.set_user_attr(ATTR_GOALS, goals_json)
    study.set_user_attr("autotune_version", __version__)
    study.set_user_attr(
        "autotune_run",
        {"trials": settings.trials, "sampler": settings.sampler, "seed": settings.seed},
    )
    study.set_user_attr("emulator_version", emulator_version)
    # What optuna-dashboard and ``optuna.load_study`` users read: objective names with units.
    study.set_metric_names(settings.goals.metric_labels())
    study.set_user_attr(
        "autotune_units",
        {"latency": "ms", "throughput": "seq/s", "cost": settings.goals.cost_name},
    )
    space = settings.space
    clients = space.concurrency if isinstance(space.concurrency, int) else "one per stage"
    study.set_user_attr(
        "autotune_traffic",
        {"kind": "closed loop", "clients": clients, "requests": space.requests},
    )


__all__ = ["GRACE_S", "HEARTBEAT_S", "identity", "load_goals", "rdb_storage", "save_goals"]
