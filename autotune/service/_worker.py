"""The queue worker: claim a study, run its trials through the study runner, move on.

A claimed study runs through ``run_study`` as ``autotune worker --study-name`` runs it
(heartbeats, exact totals across workers, a dead worker's trials failed and retried), with one
more callback: after each trial the worker reads the study's queue state and stops once the
study was cancelled, so a cancelled study ends within one trial per worker.

A database that cannot be reached (a PostgreSQL restart) is waited out, never taken for a
failed study; the worker claims the same study again and Optuna's heartbeats retry the trial
it lost.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import optuna

from autotune.errors import AutotuneError
from autotune.study.queue import settings_of
from autotune.study.read import rdb_storage
from autotune.study.write import run_study
from storage import QueuedStudy, ServiceStore, database_unavailable, describe

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class StopWhenCancelled:
    """Optuna callback: stop the study once its queue entry is no longer running."""

    def __init__(self, store: ServiceStore, name: str) -> None:
        self.store, self.name = store, name

    def __call__(self, study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        try:
            state = self.store.state(self.name)
        except Exception as e:
            if database_unavailable(e):
                return  # asked again after the next trial
            raise
        if state != "running":
            study.stop()


def run_entry(store: ServiceStore, entry: QueuedStudy, first: bool, log: Log) -> None:
    """Run one claimed study to its end (or its cancellation) from this worker."""
    log(f"worker: {'starting' if first else 'joining'} study {entry.name!r}")
    stop = StopWhenCancelled(store, entry.name)
    try:
        try:
            result = run_study(settings_of(entry, store.url, joining=not first), [stop])
        except optuna.exceptions.DuplicatedStudyError:
            # Taken for a lost start while its first worker was only slow: join it instead.
            result = run_study(settings_of(entry, store.url, joining=True), [stop])
    except Exception as e:
        if database_unavailable(e):
            raise
        why = str(e) if isinstance(e, AutotuneError) else f"internal error: {type(e).__name__}: {e}"
        store.finish(entry.name, error=why)
        log(f"worker: study {entry.name!r} failed: {why}")
        return
    if store.finish(entry.name):
        log(f"worker: study {entry.name!r} done ({result.n_trials} trials)")
    else:
        log(f"worker: study {entry.name!r} {store.state(entry.name)}; left it")


def drain(
    url: str,
    *,
    until_empty: bool = False,
    poll_s: float = 2.0,
    retry_s: float = 2.0,
    log: Log = _stderr,
) -> int:
    """Work on queued studies until interrupted (or, ``until_empty``, until none is left);
    returns how many claims were worked on."""
    store: ServiceStore | None = None
    claims = 0
    stop = "stops once none is left" if until_empty else "Ctrl-C stops"
    log(f"worker: running queued studies of {describe(url)} ({stop})")
    while True:
        try:
            if store is None:
                rdb_storage(url, writer=True)  # Optuna's tables, which claims look at
                store = ServiceStore(url)
            claimed = store.claim()
            if claimed is None:
                if until_empty:
                    return claims
                time.sleep(poll_s)
                continue
            claims += 1
            run_entry(store, *claimed, log)
        except Exception as e:
            if not database_unavailable(e):
                raise
            log(f"worker: database unavailable ({type(e).__name__}); retrying in {retry_s:g} s")
            time.sleep(retry_s)


__all__ = ["StopWhenCancelled", "drain", "run_entry"]
