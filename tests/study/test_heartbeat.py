"""Dead trials: found by heartbeat (or its absence), failed, their records deleted, retried.

In-process and on both backends; tests/study/test_workers.py does the same with real processes
killed with ``kill -9``.
"""

from __future__ import annotations

import time

import optuna
import pytest

from autotune.study._storage import _HeartbeatStorage, _Reclaim
from autotune.values import TrialRecord
from storage import ResultStore
from tests.factories import record
from tests.storage.conftest import db_url, postgres_admin  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.slow,  # each waits out a grace period
    # fail_stale_trials and the retry callback are "experimental" in Optuna since 2.8.
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

RUNNING, FAIL, WAITING = (
    optuna.trial.TrialState.RUNNING,
    optuna.trial.TrialState.FAIL,
    optuna.trial.TrialState.WAITING,
)


def _study(url: str) -> optuna.Study:
    ResultStore(url).close()  # autotune's tables beside Optuna's, as `autotune study` makes them
    storage = _HeartbeatStorage(
        url, heartbeat_interval=1, grace_period=1, heartbeat_stale_trial_callback=_Reclaim(url)
    )
    return optuna.create_study(study_name="s", storage=storage)


def _record(trial: optuna.Trial) -> TrialRecord:
    return record(trial.number, study_name="s", optuna_trial_id=trial._trial_id)


def test_a_trial_dead_before_its_first_heartbeat_is_failed(db_url: str) -> None:  # noqa: F811
    study = _study(db_url)
    zombie = study.ask()  # its process "dies" here: no heartbeat was ever recorded
    time.sleep(1.2)  # past the grace period
    alive = study.ask()
    study._storage.record_heartbeat(alive._trial_id)
    optuna.storages.fail_stale_trials(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert states[zombie.number] == FAIL
    assert states[alive.number] == RUNNING
    assert len(states) == 2  # nothing to retry: the zombie had no parameters


def test_a_dead_trial_loses_its_record_and_is_retried(db_url: str) -> None:  # noqa: F811
    study = _study(db_url)
    store = ResultStore(db_url)
    dead = study.ask()
    dead.suggest_int("batch_size", 1, 16)
    study._storage.record_heartbeat(dead._trial_id)
    assert store.add(_record(dead), while_running=True)  # then killed before it completed
    time.sleep(2.2)
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert trials[dead.number].state == FAIL
    assert store.records("s") == []
    (retry,) = [t for t in trials if t.state == WAITING]
    assert retry.params == dead.params


def test_a_record_is_stored_only_while_its_trial_runs(db_url: str) -> None:  # noqa: F811
    study = _study(db_url)
    store = ResultStore(db_url)
    taken_for_dead = study.ask()
    study._storage.set_trial_state_values(taken_for_dead._trial_id, FAIL)
    assert not store.add(_record(taken_for_dead), while_running=True)
    live = study.ask()
    assert store.add(_record(live), while_running=True)
    assert [r.trial_number for r in store.records("s")] == [live.number]


def test_a_dead_warm_start_trial_is_enqueued_again(db_url: str) -> None:  # noqa: F811
    """A trial enqueued with fixed parameters that died before its first suggestion."""
    study = _study(db_url)
    study.enqueue_trial({"batch_size": 4})
    trial = study.ask()  # popped from the queue; killed before suggesting anything
    _Reclaim(db_url)(study, study.get_trials()[0])
    (retry,) = [t for t in study.get_trials() if t.number != trial.number]
    assert retry.state == WAITING
    assert retry.system_attrs["fixed_params"] == {"batch_size": 4}
