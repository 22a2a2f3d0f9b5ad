"""The read side of studies: list them, open one, its outcome and recommendation, a trial to
export. Imports nothing of the emulator or the hardware models: records carry what is shown."""

from __future__ import annotations

import json
from dataclasses import dataclass

import optuna

from autotune.errors import InputError, choice_error
from autotune.study._objectives import best, default_pick, ties
from autotune.study._settings import PICKS, Goals
from autotune.study._space import SearchSpace
from autotune.study._storage import load_goals, rdb_storage
from autotune.values import TrialRecord
from storage import ResultStore


@dataclass(frozen=True)
class StudyOutcome:
    """A study's state after a run: counts and the recommendation."""

    study_name: str
    storage: str
    goals: Goals
    n_trials: int
    n_complete: int
    n_failed: int
    best: tuple[TrialRecord, ...]
    # Single objectives: every feasible record within the emulator's uncertainty of the best,
    # the recommendation first (``_objectives.ties``); empty for a Pareto study.
    tied: tuple[TrialRecord, ...] = ()
    records: tuple[TrialRecord, ...] = ()  # every completed trial's record


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials with an outcome: completed, or failed because the config cannot deploy.

    Trials that died with their process are not outcomes: they are retried.
    """
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if t.state == optuna.trial.TrialState.COMPLETE or "error" in t.user_attrs
    ]


def completed_records(
    store: ResultStore, study_name: str, trials: list[optuna.trial.FrozenTrial]
) -> list[TrialRecord]:
    """The records of those ``trials`` that completed (one that died may have left a record)."""
    complete = {t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    return [r for r in store.records(study_name) if r.trial_number in complete]


def outcome(study: optuna.Study, store: ResultStore, goals: Goals, url: str) -> StudyOutcome:
    done = finished(study)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    records = completed_records(store, study.study_name, done)
    return StudyOutcome(
        study.study_name,
        url,
        goals,
        len(done),
        n_complete,
        len(done) - n_complete,
        tuple(best(records, goals)),
        tuple(ties(records, goals)),
        tuple(records),
    )


@dataclass(frozen=True)
class OpenStudy:
    study: optuna.Study
    store: ResultStore
    space: SearchSpace
    goals: Goals
    url: str
    # Optuna's storage without its trial cache, which loads every trial on first use: for reads
    # that need only a few trials of a big study.
    storage: optuna.storages.RDBStorage

    def outcome(self) -> StudyOutcome:
        return outcome(self.study, self.store, self.goals, self.url)

    def records(self) -> list[TrialRecord]:
        """The records of the completed trials."""
        complete = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return completed_records(self.store, self.study.study_name, complete)

    def failures(self) -> list[tuple[int, str]]:
        """Trials that could not deploy, with the reason."""
        return [
            (t.number, str(t.user_attrs.get("error", "failed")))
            for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        ]


def study_names(url: str) -> list[str]:
    return _names(rdb_storage(url))


def _names(storage: optuna.storages.BaseStorage) -> list[str]:
    # Names only: summaries would read every trial of every study.
    return sorted(optuna.study.get_all_study_names(storage))


def resolve_name(url: str, name: str | None) -> str:
    """``name``, or the only study of the storage; an ``InputError`` listing the studies (name,
    objective, trials) when there are several or none."""
    if name is not None:
        return name
    ResultStore(url, read_only=True).close()  # first: refuses a missing or foreign database
    storage = rdb_storage(url)
    summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    if len(summaries) == 1:
        return summaries[0].study_name
    if not summaries:
        raise InputError(f"no studies in {url}; run `autotune study` first")

    def line(s: optuna.study.StudySummary) -> str:
        goals = json.loads(s.user_attrs.get("autotune_goals", "{}"))
        return f"{s.study_name} ({goals.get('objective', 'not autotune')}, {s.n_trials} trials)"

    listed = "; ".join(line(s) for s in sorted(summaries, key=lambda s: s.study_name))
    raise InputError(f"{len(summaries)} studies in {url}: give --study-name, one of: {listed}")


def open_existing(url: str, name: str, read_only: bool = True) -> OpenStudy:
    """The study ``name`` in ``url``; an ``InputError`` listing the studies there otherwise."""
    store = ResultStore(url, read_only=read_only)  # first: refuses what is not our database
    storage = rdb_storage(url)
    names = _names(storage)
    if name not in names:
        raise InputError(
            f"no study named {name!r} in {url}; studies there: {', '.join(names) or 'none'}"
        )
    study = optuna.load_study(study_name=name, storage=storage)
    space, goals = load_goals(study)
    return OpenStudy(study, store, space, goals, url, storage)


def pick(opened: OpenStudy, trial: int | None, objective: str | None) -> TrialRecord:
    """The record to export: trial ``trial``, the best for ``objective``, or by default the
    study's ``default_pick`` (its recommendation; a Pareto study's cheapest front config)."""
    records = opened.records()
    if not records:
        raise InputError(f"study {opened.study.study_name!r} has no completed trial to export")
    if trial is not None:
        matches = [r for r in records if r.trial_number == trial]
        if not matches:
            numbers = ", ".join(str(r.trial_number) for r in records[:20])
            raise InputError(
                f"trial {trial} of study {opened.study.study_name!r} is not a "
                f"completed trial; completed: {numbers}"
                f"{' ...' if len(records) > 20 else ''}"
            )
        return matches[0]
    if objective is not None and objective not in PICKS:
        raise choice_error("pick", objective, PICKS)
    goals = opened.goals
    chosen = (
        default_pick(records, goals)
        if objective is None
        else next(iter(best(records, goals, objective)), None)
    )
    if chosen is None:
        raise InputError(
            f"study {opened.study.study_name!r} has no feasible completed trial; "
            "choose one with --trial N"
        )
    return chosen
