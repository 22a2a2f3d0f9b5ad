"""Study insight: optimization history, parameter importances, results by instance and batch."""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from autotune.study import OBJECTIVES, Goals, feasible, metric
from autotune.study.read import num
from autotune.values import TrialRecord

_LABELS = {"p95_ms": "p95 latency (ms)", "throughput": "throughput (seq/s)"}


@dataclass(frozen=True)
class HistoryPoint:
    trial_number: int
    value: float
    best_so_far: float | None  # best feasible value up to this trial; None before the first
    feasible: bool


@dataclass(frozen=True)
class HistorySeries:
    """One objective over the trials, in trial order."""

    name: str
    label: str
    direction: str
    points: tuple[HistoryPoint, ...]


def history(records: Sequence[TrialRecord], goals: Goals) -> list[HistorySeries]:
    """Each objective's value per completed trial and its running best (feasible trials)."""
    out = []
    for name, direction in OBJECTIVES[goals.objective]:
        better = min if direction == "minimize" else max
        best: float | None = None
        points = []
        for r in sorted(records, key=lambda r: r.trial_number):
            value, ok = metric(r, name, goals), feasible(r, goals)
            if ok:
                best = value if best is None else better(best, value)
            points.append(HistoryPoint(r.trial_number, value, best, ok))
        out.append(
            HistorySeries(name, _LABELS.get(name, goals.cost_name), direction, tuple(points))
        )
    return out


def param_importances(study: optuna.Study, objective_index: int = 0) -> dict[str, float]:
    """Optuna's parameter importances for one objective; empty when they cannot be computed.

    Needs at least two completed trials; with fewer, or when every trial has the same params,
    Optuna raises, and the dashboard then simply shows no importances.
    """
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    # Optuna's evaluator ranks params by how they reach *low* target values.
    maximize = study.directions[objective_index] == optuna.study.StudyDirection.MAXIMIZE
    sign = -1.0 if maximize else 1.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "is the target minimized?": it is
            found = optuna.importance.get_param_importances(
                study, target=lambda t: sign * t.values[objective_index]
            )
    except (ValueError, RuntimeError, IndexError, TypeError):
        return {}
    return {param_label(k): float(v) for k, v in found.items()}


def param_label(name: str) -> str:
    """A search parameter as a reader names it: ``copies_share`` is the number of copies
    (drawn as a share of what fits the instance), ``instance_type`` the instance type."""
    return name.removesuffix("_share").replace("_", " ")


@dataclass(frozen=True)
class GroupRow:
    """Results of the trials sharing an instance type and batch size."""

    instance_type: str
    batch_size: int
    n_trials: int
    best_p95_ms: float
    median_p95_ms: float
    best_cost_per_1m: float
    median_cost_per_1m: float
    best_throughput: float


GROUP_COLUMNS = {
    "instance_type": "instance",
    "batch_size": "batch",
    "n_trials": "trials",
    "best_p95_ms": "best p95 (ms)",
    "median_p95_ms": "median p95 (ms)",
    "best_cost_per_1m": "best $ per 1M",
    "median_cost_per_1m": "median $ per 1M",
    "best_throughput": "best seq/s",
}


def group_table(rows: Sequence[GroupRow]) -> list[dict[str, object]]:
    """The grouped results with readable column names and the one display rounding."""
    return [
        {GROUP_COLUMNS[k]: num(v) if isinstance(v, float) else v for k, v in vars(r).items()}
        for r in rows
    ]


def by_instance_and_batch(records: Sequence[TrialRecord]) -> list[GroupRow]:
    """Latency and cost grouped by instance type and batch size."""
    groups: dict[tuple[str, int], list[TrialRecord]] = {}
    for r in records:
        groups.setdefault((r.deployment.instance_type, r.workload.batch_size), []).append(r)
    return [
        GroupRow(
            instance,
            batch,
            len(rs),
            min(r.latency.p95_ms for r in rs),
            statistics.median(r.latency.p95_ms for r in rs),
            min(r.cost.per_1m_usd for r in rs),
            statistics.median(r.cost.per_1m_usd for r in rs),
            max(r.result.throughput for r in rs),
        )
        for (instance, batch), rs in sorted(groups.items())
    ]
