"""The API's reads, through the read side's functions, over connections kept for the process.

``autotune.study.read.open_existing`` opens a store and an Optuna storage per call, right for a
command but not for a server answering many requests a second: here one ``ServiceStore`` and one
Optuna storage serve every request, and each study's Optuna ``Study`` is kept, so that its trial
cache only reads the trials that changed since the last request.

Answers are kept. One younger than ``FRESH_S`` seconds is served as it is. An older one is
still served at once while one background thread brings it up to date: it reads the study's
*stamp* (its queue state and its trials by state, one small query) and computes the answer
again only if the stamp changed. So a polling client never waits for a computation (only the
first request for an answer does), answers lag the database by about ``FRESH_S`` plus one
computation, and this process's own changes (a submission, a cancellation) drop the answers
of their study at once. A study's records are parsed once, as they arrive, for all its answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import optuna

from autotune.errors import NotFoundError
from autotune.study import best
from autotune.study.queue import Progress, progress
from autotune.study.read import OpenStudy, load_goals, rdb_storage
from autotune.values import TrialRecord
from storage import QueuedStudy, ServiceStore

T = TypeVar("T")
Key = tuple[Any, ...]
FRESH_S = 1.0
RELOAD_S = 30.0
MAX_ANSWERS = 4096


@dataclass(frozen=True)
class _Parsed:
    loaded_at: float
    last_id: int
    by_trial: dict[int, TrialRecord]  # Optuna trial id -> record


class Reads:
    """Long-lived read access to one database, for every request of a server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = ServiceStore(url)  # migrates autotune's tables once, at start
        self.storage = rdb_storage(url)  # creates Optuna's tables if the database is new
        self._lock = threading.Lock()
        self._studies: dict[str, optuna.Study] = {}
        self._answers: dict[Key, tuple[Any, float, Any]] = {}  # key -> stamp, time, answer
        self._computing: dict[Key, threading.Lock] = {}
        self._refreshing: set[Key] = set()
        self._parsed: dict[str, _Parsed] = {}
        self._refresher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="autotune-reads")

    def names(self) -> list[str]:
        """Queued studies in submission order, then the others by name."""
        queued = [e.name for e in self.store.queue()]
        others = sorted(set(optuna.study.get_all_study_names(self.storage)) - set(queued))
        return queued + others

    def entry(self, name: str) -> QueuedStudy | None:
        return self.store.queued(name)

    def progress(self, name: str, entry: QueuedStudy | None) -> Progress:
        return progress(self.study(name), entry, name)

    def study(self, name: str) -> optuna.Study | None:
        """The Optuna study ``name``, kept from one request to the next; ``None`` if no such
        study exists (yet: a queued study gets one when a worker starts it)."""
        with self._lock:
            kept = self._studies.get(name)
        if kept is None:
            try:
                kept = optuna.load_study(study_name=name, storage=self.storage)
            except KeyError:
                return None
            with self._lock:
                kept = self._studies.setdefault(name, kept)
        return kept

    def opened(self, name: str) -> OpenStudy | None:
        """The study ``name`` with its goals; ``None`` while only queued."""
        study = self.study(name)
        if study is None:
            if self.store.queued(name) is None:
                raise NotFoundError(f"no study named {name!r}")
            return None
        space, goals = load_goals(study)
        return OpenStudy(study, self.store, space, goals, self.url, self.storage)

    def _stored(self, name: str) -> list[TrialRecord]:
        """Every stored record of study ``name``, parsed once: new rows are read as they come,
        and all of them again every ``RELOAD_S`` (a record's numeric check rewrites its row)."""
        with self._lock:
            kept = self._parsed.get(name)
        now = time.monotonic()
        if kept is None or now - kept.loaded_at > RELOAD_S:
            kept = _Parsed(now, 0, {})
        new = self.store.records_after(name, kept.last_id)
        if new:
            by_trial = dict(kept.by_trial) | {r.optuna_trial_id: r for _, r in new}
            kept = _Parsed(kept.loaded_at, new[-1][0], by_trial)
        with self._lock:
            self._parsed[name] = kept
        return sorted(kept.by_trial.values(), key=lambda r: r.trial_number)

    def records(self, opened: OpenStudy) -> list[TrialRecord]:
        """``opened.records()`` (the completed trials' records), parsed once per change."""
        name = opened.study.study_name
        stored = self.cached(("records", name), name, lambda: self._stored(name))
        complete = opened.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
        )
        numbers = {t.number for t in complete}
        return [r for r in stored if r.trial_number in numbers]

    def best_so_far(self, opened: OpenStudy | None, objective: str | None = None) -> list[Any]:
        """The study's recommendation (``outcome(...).best``), or the best by ``objective``."""
        if opened is None:
            return []
        return best(self.records(opened), opened.goals, objective)

    def peek(self, key: Key) -> tuple[Any | None, bool]:
        """The answer kept for ``key`` (``None`` if none), and whether it is fresh."""
        kept = self._answers.get(key)
        if kept is None:
            return None, False
        return kept[2], time.monotonic() - kept[1] < FRESH_S

    def refresh(self, key: Key, name: str | None, compute: Callable[[], Any]) -> None:
        """Bring the answer for ``key`` up to date in a background thread (one at a time)."""
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def run() -> None:
            try:
                self.cached(key, name, compute)
            except Exception:  # the next request that needs the answer computes it and says
                with self._lock:
                    self._answers.pop(key, None)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        self._refresher.submit(run)

    def cached(self, key: Key, name: str | None, compute: Callable[[], T]) -> T:
        """``compute()``, or the answer kept for ``key`` if it is fresh or its study has not
        changed since (same stamp). One thread computes an answer; others wait for it."""
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            now = time.monotonic()
            kept = self._answers.get(key)
            if kept is not None and now - kept[1] < FRESH_S:
                return kept[2]
            # Without a study to stamp (the list of every study), a stale answer is recomputed.
            stamp = self.store.stamp(name) if name is not None else now
            if kept is None or kept[0] != stamp:
                kept = (stamp, now, compute())
            else:
                kept = (stamp, now, kept[2])
            with self._lock:
                self._answers[key] = kept
                if len(self._answers) > MAX_ANSWERS:  # e.g. one per ?limit= a client tried
                    oldest = sorted(self._answers, key=lambda k: self._answers[k][1])
                    for stale in oldest[: MAX_ANSWERS // 2]:
                        del self._answers[stale]
            return kept[2]

    def forget(self, name: str) -> None:
        """Drop the answers kept for ``name`` (after this process changed it)."""
        with self._lock:
            for key in [k for k in self._answers if k[1] in (name, None)]:
                del self._answers[key]
            self._parsed.pop(name, None)

    def close(self) -> None:
        self._refresher.shutdown(wait=False, cancel_futures=True)
        self.store.close()
        self.storage.engine.dispose()


__all__ = ["FRESH_S", "Reads"]
