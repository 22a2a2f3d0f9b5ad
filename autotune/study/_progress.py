"""The study's progress line: trials done and the best so far, with its unit.

On a terminal it rewrites one line; into a file or pipe it writes a plain line every tenth of
the study, never a carriage return. The best is the study's one answer (``_objectives.best``:
the same ties and rounding as ``autotune best`` and the dashboard).
"""

from __future__ import annotations

import sys
from typing import TextIO

import optuna

from autotune.study._display import metric_text, plural
from autotune.study._objectives import best, metric
from autotune.study._queries import completed_records, finished
from autotune.study._settings import OBJECTIVES, Goals
from autotune.values import TrialRecord
from storage import ResultStore


def best_text(goals: Goals, records: list[TrialRecord]) -> str:
    """``best p95 4.56 ms (trial 19)``, or the size of the Pareto set."""
    found = best(records, goals)
    if not found:
        return "no feasible trial yet"
    if goals.objective == "pareto":
        return f"Pareto set of {plural(len(found), 'config')}"
    name = OBJECTIVES[goals.objective][0][0]
    value = metric(found[0], name, goals)
    return f"best {metric_text(name, value, goals)} (trial {found[0].trial_number})"


class Progress:
    """An Optuna callback printing ``trial n/total, best ...``."""

    def __init__(self, goals: Goals, store: ResultStore, total: int, out: TextIO | None = None):
        # stderr as it is when the study starts (a caller may have redirected it), not at import.
        self.out = out if out is not None else sys.stderr
        self.goals, self.store, self.total = goals, store, total
        self.tty = self.out.isatty()
        self.step = max(1, total // 10)

    def __call__(self, study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        done = finished(study)
        n = len(done)
        if not self.tty and n % self.step and n < self.total:
            return
        records = completed_records(self.store, study.study_name, done)
        line = f"trial {min(n, self.total)}/{self.total}, {best_text(self.goals, records)}"
        if self.tty:
            self.out.write(f"\r\033[K{line}")
            if n >= self.total:
                self.out.write("\n")
        else:
            self.out.write(line + "\n")
        self.out.flush()
