"""Queue workers: a queued study runs to exactly its trials, survives a worker killed with
``kill -9``, and stops within one trial per worker once cancelled. Real studies (a small model),
real ``autotune worker`` processes, SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from fastapi.testclient import TestClient

from autotune.service import create_app, drain
from autotune.study.queue import StudyRequest, cancel, finished_of, submit
from autotune.study.read import open_existing, pick, render, spec_from_record
from storage import ServiceStore
from tests.service.conftest import SPACE, autotune_cmd, service_env

pytestmark = pytest.mark.slow


def _census(url: str, name: str) -> tuple[int, int, int]:
    """Finished trials, running trials, and stored records of the study."""
    try:
        study = optuna.load_study(study_name=name, storage=url)
    except KeyError:
        return 0, 0, 0
    trials = study.get_trials(deepcopy=False)
    running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials)
    store = ServiceStore(url)
    try:
        records = len(store.records(name))
    finally:
        store.close()
    return len(finished_of(trials)), running, records


def _queue(url: str, name: str, trials: int, **body: Any) -> None:
    store = ServiceStore(url)
    try:
        submit(store, StudyRequest(space=SPACE, trials=trials, name=name, **body))
    finally:
        store.close()


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        autotune_cmd("worker", "--storage", url, "--until-empty"),
        env=service_env(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_drained_study_answers_as_the_command_line_does(db_url: str) -> None:
    _queue(db_url, "drained", 5, objective="min-cost")
    assert drain(db_url, until_empty=True, log=lambda _: None) == 1
    assert _census(db_url, "drained") == (5, 0, 5)
    app = create_app(db_url)
    with TestClient(app) as client:
        study = client.get("/studies/drained").json()
        assert study["state"] == "done" and study["progress"] == {"n": 5, "total": 5}
        assert study["n_complete"] + study["n_failed"] == 5
        opened = open_existing(db_url, "drained")
        chosen = pick(opened, None, None)
        assert study["best"][0]["trial_number"] == chosen.trial_number
        best = client.get("/studies/drained/best").json()
        assert best["feasible"] and best["best"][0]["trial_number"] == chosen.trial_number
        for fmt in ("yaml", "json", "env", "script"):
            text = client.get(f"/studies/drained/export?format={fmt}").text
            assert text == render(spec_from_record(chosen, "drained"), fmt)
        trials = client.get("/studies/drained/trials?sort=cost&limit=2").json()["trials"]
        costs = sorted(r.cost.per_1m_usd for r in opened.records())[:2]
        assert [t["cost_per_1m_usd"] for t in trials] == costs
    app.state.reads.store.close()


def test_a_worker_killed_mid_study_leaves_the_rest_to_another(db_url: str, tmp_path: Path) -> None:
    _queue(db_url, "killed", 12)
    first = _worker(db_url, tmp_path / "first.log")
    _wait_for(lambda: _census(db_url, "killed")[0] >= 2, 180, "two trials")
    second = _worker(db_url, tmp_path / "second.log")
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    assert _census(db_url, "killed") == (12, 0, 12)
    store = ServiceStore(db_url)
    assert store.state("killed") == "done"
    store.close()


def test_a_cancelled_study_stops_within_one_trial_per_worker(db_url: str, tmp_path: Path) -> None:
    _queue(db_url, "cancelled", 200)
    workers = [_worker(db_url, tmp_path / f"w{i}.log") for i in range(2)]
    _wait_for(lambda: _census(db_url, "cancelled")[0] >= 4, 240, "four trials")
    store = ServiceStore(db_url)
    cancel(store, "cancelled")
    at_cancel = _census(db_url, "cancelled")[0]
    for w in workers:
        assert w.wait(timeout=120) == 0
    after = _census(db_url, "cancelled")
    assert at_cancel <= after[0] <= at_cancel + len(workers), (at_cancel, after)
    assert after[1] == 0 and after[2] <= after[0]
    assert store.state("cancelled") == "cancelled"
    store.close()
