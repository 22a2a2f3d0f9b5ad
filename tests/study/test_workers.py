"""Studies that survive: kill -9 and resume, and several worker processes on one study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from storage import ResultStore
from tests.storage.conftest import db_url, postgres_admin  # noqa: F401  (fixtures)
from tests.study.helpers import MINILM

# Real studies in killed and concurrent processes, on SQLite and PostgreSQL.
pytestmark = pytest.mark.slow

# Three instance sizes and four batches: enough candidates (588) that workers rarely collide,
# and few pipeline-core counts, so only 12 plans are compiled.
SPACE = [
    "--model",
    MINILM,
    "--seq-len",
    "32",
    "--batch-sizes",
    "1,2,4,8",
    "--pipeline-cores",
    "1,2,4",
    "--instances",
    "inf1.xlarge,inf1.6xlarge,inf1.24xlarge",
]


def _env(tmp_path: Path, grace: int = 5) -> dict[str, str]:
    # Short heartbeats so a killed trial is declared dead within the test. Workers sharing a
    # study on two busy cores get a longer grace, so no live trial is mistaken for a dead one.
    return dict(
        os.environ, AUTOTUNE_HEARTBEAT_S="1", AUTOTUNE_GRACE_S=str(grace), PYTHONWARNINGS="ignore"
    )


def _autotune(*args: str) -> list[str]:
    return [sys.executable, "-c", "from autotune.cli import main; main()", *args]


def _states(url: str, name: str) -> Counter[str]:
    study = optuna.load_study(study_name=name, storage=url)
    return Counter(t.state.name for t in study.trials)


def _check_consistent(url: str, name: str) -> int:
    """No trial left running, numbers unique, one record per completed trial; returns done."""
    study = optuna.load_study(study_name=name, storage=url)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert not [t.number for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    completed = {t.number for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    records = ResultStore(url, read_only=True).records(name)
    assert sorted(r.trial_number for r in records) == sorted(completed)
    return len(completed)


def _interrupt(tmp_path: Path, url: str, trials: int, after: int, sig: int) -> list[str]:
    """Start a study, send ``sig`` once ``after`` trials completed; the command to resume it."""
    command = _autotune(
        "study", *SPACE, "--trials", str(trials), "--study-name", "s", "--storage", url, "--json"
    )
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _states_or_none(url, "s")["COMPLETE"] < after:
        time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert err.decode().strip().splitlines() == ["interrupted; finished trials are kept"]
    return command


def _resume(tmp_path: Path, command: list[str]) -> None:
    done = subprocess.run(
        command, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def _states_or_none(url: str, name: str) -> Counter[str]:
    try:
        return _states(url, name)
    except Exception:  # the study does not exist yet
        return Counter()


def test_kill_9_then_resume_keeps_every_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    command = _interrupt(tmp_path, url, trials=60, after=20, sig=signal.SIGKILL)
    before = _states(url, "s")
    assert 20 <= before["COMPLETE"] < 60
    time.sleep(6)  # past the grace period: the killed trial is now stale
    _resume(tmp_path, command)
    assert _check_consistent(url, "s") == 60


def test_ctrl_c_then_resume_keeps_every_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    command = _interrupt(tmp_path, url, trials=100, after=8, sig=signal.SIGINT)
    before = _states(url, "s")
    # The interrupted trial is failed at once, not left running; but a Ctrl-C in the instant
    # between Optuna creating a trial and starting its heartbeat leaves it running (see
    # autotune.cli._exit_despite_stray_threads): the next run fails it as dead, as after kill -9.
    assert before["RUNNING"] <= 1
    assert 8 <= before["COMPLETE"] < 100
    if before["RUNNING"]:
        time.sleep(6)  # past the grace period
    _resume(tmp_path, command)
    assert _check_consistent(url, "s") == 100


def _start_workers(
    tmp_path: Path, url: str, count: int, total: int, grace: int
) -> list[subprocess.Popen[str]]:
    """A study of 2 trials, then ``count`` worker processes taking it to ``total``."""
    first = subprocess.run(
        _autotune(
            "study", *SPACE, "--trials", "2", "--study-name", "w", "--storage", url, "--json"
        ),
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert first.returncode == 0, first.stderr
    return [
        subprocess.Popen(
            _autotune(
                "worker", "--study-name", "w", "--storage", url, "--trials", str(total), "--json"
            ),
            cwd=tmp_path,
            env=_env(tmp_path, grace=grace),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def _finish(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "database is locked" not in err and "Traceback" not in err


def test_workers_share_one_study(tmp_path: Path, db_url: str) -> None:  # noqa: F811
    """Four worker processes on SQLite (WAL, busy timeout) and on PostgreSQL."""
    _finish(_start_workers(tmp_path, db_url, count=4, total=24, grace=30))
    # Exactly: a trial started beyond the total is pruned, not run.
    assert _check_consistent(db_url, "w") == 24


def test_a_worker_killed_halfway_does_not_stop_the_study(
    tmp_path: Path,
    db_url: str,  # noqa: F811
) -> None:
    """One of three workers killed with kill -9, on SQLite and on PostgreSQL."""
    procs = _start_workers(tmp_path, db_url, count=3, total=30, grace=5)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _states(db_url, "w")["COMPLETE"] < 12:
        time.sleep(0.3)
    procs[0].send_signal(signal.SIGKILL)
    procs[0].wait()
    _finish(procs[1:])
    assert _check_consistent(db_url, "w") == 30
