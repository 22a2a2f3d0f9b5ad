"""The API's reads, through the read side's functions, over connections kept for the process.

``autotune.study.read.open_existing`` opens a store and an Optuna storage per call, right for a
command but not for a server answering many requests a second: here one ``ServiceStore`` and one
Optuna storage serve every request, and each study's Optuna ``Study`` is kept, so that its trial
cache only reads the trials that changed since the last request.

An answer is computed once per change of its study: each is kept with the study's *stamp* (its
queue state and its trial counts by state, one small query) and served again while the stamp
holds, for at most ``FRESH_S`` seconds (a record's numeric check is written after its trial).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import optuna

from autotune.errors import NotFoundError
from autotune.study import Goals
from autotune.study.queue import Progress, progress
from autotune.study.read import OpenStudy, load_goals, outcome, rdb_storage
from storage import QueuedStudy, ServiceStore

T = TypeVar("T")
FRESH_S = 2.0


class Reads:
    """Long-lived read access to one database, for every request of a server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = ServiceStore(url)  # migrates autotune's tables once, at start
        self.storage = rdb_storage(url)  # creates Optuna's tables if the database is new
        self._lock = threading.Lock()
        self._studies: dict[str, tuple[optuna.Study, Goals, Any]] = {}
        self._answers: dict[tuple[Any, ...], tuple[Any, float, Any]] = {}

    def names(self) -> list[str]:
        """Queued studies in submission order, then the others by name."""
        queued = [e.name for e in self.store.queue()]
        others = sorted(set(optuna.study.get_all_study_names(self.storage)) - set(queued))
        return queued + others

    def entry(self, name: str) -> QueuedStudy | None:
        return self.store.queued(name)

    def progress(self, name: str, entry: QueuedStudy | None) -> Progress:
        return progress(self.storage, entry, name)

    def opened(self, name: str) -> OpenStudy | None:
        """The Optuna study ``name`` with its goals; ``None`` while only queued."""
        with self._lock:
            kept = self._studies.get(name)
        if kept is None:
            try:
                study = optuna.load_study(study_name=name, storage=self.storage)
            except KeyError:
                if self.store.queued(name) is None:
                    raise NotFoundError(f"no study named {name!r}") from None
                return None
            space, goals = load_goals(study)
            kept = (study, goals, space)
            with self._lock:
                self._studies[name] = kept
        study, goals, space = kept
        return OpenStudy(study, self.store, space, goals, self.url, self.storage)

    def best_so_far(self, opened: OpenStudy | None) -> list[Any]:
        if opened is None:
            return []
        return list(outcome(opened.study, self.store, opened.goals, self.url).best)

    def cached(self, key: tuple[Any, ...], name: str, compute: Callable[[], T]) -> T:
        """``compute()``, or its answer from before if study ``name`` has not changed since."""
        stamp = self.store.stamp(name)
        now = time.monotonic()
        with self._lock:
            kept = self._answers.get(key)
        if kept is not None and kept[0] == stamp and now - kept[1] < FRESH_S:
            return kept[2]
        answer = compute()
        with self._lock:
            self._answers[key] = (stamp, now, answer)
        return answer

    def forget(self, name: str) -> None:
        """Drop the answers kept for ``name`` (after this process changed it)."""
        with self._lock:
            for key in [k for k in self._answers if k[1] == name]:
                del self._answers[key]


__all__ = ["Reads"]
