"""Objectives, feasibility, Pareto fronts and the pick of the best: pure functions on records."""

from __future__ import annotations

import math
from collections.abc import Sequence

from autotune.study._settings import OBJECTIVES, Goals
from autotune.values import TrialRecord, pareto_indices


def fleet_size(throughput: float, target_qps: float | None) -> int | None:
    """Instances needed to serve ``target_qps`` sequences per second."""
    if target_qps is None:
        return None
    return max(1, math.ceil(target_qps / throughput))


def metric(record: TrialRecord, name: str, goals: Goals) -> float:
    if name == "p95_ms":
        return record.latency.p95_ms
    if name == "throughput":
        # Open loop: requests/s one instance carries within the SLO (capacity under it).
        capacity = record.result.capacity_qps
        return record.result.throughput if capacity is None else capacity
    fleet = record.cost.fleet_per_hour_usd
    sized = goals.target_qps is not None or record.evaluation.load.open_loop
    if sized and fleet is not None:
        return fleet  # the fleet's dollars per hour (sized for --target-qps or the traffic)
    return record.cost.per_1m_usd


def values(record: TrialRecord, goals: Goals) -> list[float]:
    """The objective values Optuna is told for this record."""
    return [metric(record, name, goals) for name, _ in OBJECTIVES[goals.objective]]


def violations(record: TrialRecord, goals: Goals) -> dict[str, float]:
    """Constraint values in Optuna's convention: <= 0 is feasible."""
    out = {}
    if goals.max_p95_ms is not None:
        out["max_p95_ms"] = record.latency.p95_ms - goals.max_p95_ms
    if goals.min_throughput is not None:
        out["min_throughput"] = goals.min_throughput - record.result.throughput
    return out


def feasible(record: TrialRecord, goals: Goals) -> bool:
    return all(v <= 0 for v in violations(record, goals).values())


# Among equally good results, the recommendation takes the cheaper (or, for cost, the faster) one:
# one copy on one core has the same latency on every inf1 size, and the smallest should win.
_TIE_BREAK = {"min-latency": "cost", "max-throughput": "cost", "min-cost": "p95_ms"}


def _key(record: TrialRecord, goals: Goals, objective: str) -> tuple[float, ...]:
    signs = [1.0 if d == "minimize" else -1.0 for _, d in OBJECTIVES[objective]]
    picked = Goals(objective, goals.max_p95_ms, goals.min_throughput, goals.target_qps)
    return (
        *(s * v for s, v in zip(signs, values(record, picked), strict=True)),
        metric(record, _TIE_BREAK[objective], picked),
        record.trial_number,
    )


def best(
    records: Sequence[TrialRecord], goals: Goals, objective: str | None = None
) -> list[TrialRecord]:
    """The recommendation: the best feasible record, or the Pareto set for ``pareto``."""
    objective = objective or goals.objective
    ok = [r for r in unique(records) if feasible(r, goals)]
    if objective == "pareto":
        return pareto_front(ok, goals)
    return sorted(ok, key=lambda r: _key(r, goals, objective))[:1]


def pareto_front(records: Sequence[TrialRecord], goals: Goals) -> list[TrialRecord]:
    """Records no other record beats on both p95 latency and cost (sorted by latency)."""
    pareto = Goals("pareto", goals.max_p95_ms, goals.min_throughput, goals.target_qps)
    ordered = sorted(records, key=lambda r: r.trial_number)
    return [ordered[i] for i in pareto_indices([values(r, pareto) for r in ordered])]


def unique(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """One record per deployment (the earliest trial): repeats of a config are not new results."""
    first: dict[tuple[object, ...], TrialRecord] = {}
    for r in sorted(records, key=lambda r: r.trial_number):
        first.setdefault((r.deployment, r.workload.batch_size, r.evaluation.load), r)
    return list(first.values())
