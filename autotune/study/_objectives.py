"""Objectives, feasibility, Pareto fronts and the pick of the best: pure functions on records."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from storage import TrialRecord

Direction = Literal["minimize", "maximize"]
OBJECTIVES: dict[str, tuple[tuple[str, Direction], ...]] = {
    "min-latency": (("p95_ms", "minimize"),),
    "max-throughput": (("throughput", "maximize"),),
    "min-cost": (("cost", "minimize"),),
    "pareto": (("p95_ms", "minimize"), ("cost", "minimize")),
}
PICKS = ("min-latency", "max-throughput", "min-cost")


@dataclass(frozen=True)
class Goals:
    """What a study optimises and which results it accepts."""

    objective: str
    max_p95_ms: float | None = None
    min_throughput: float | None = None
    target_qps: float | None = None

    @property
    def directions(self) -> list[Direction]:
        return [d for _, d in OBJECTIVES[self.objective]]

    @property
    def cost_name(self) -> str:
        return "fleet $/h" if self.target_qps else "$ per 1M"


def fleet_size(throughput: float, target_qps: float | None) -> int | None:
    """Instances needed to serve ``target_qps`` sequences per second."""
    if target_qps is None:
        return None
    return max(1, math.ceil(target_qps / throughput))


def metric(record: TrialRecord, name: str, goals: Goals) -> float:
    if name == "p95_ms":
        return record.latency_p95_ms
    if name == "throughput":
        return record.throughput
    if goals.target_qps is not None and record.fleet_size is not None:
        return record.fleet_size * record.cost_per_hour_usd  # the fleet's dollars per hour
    return record.cost_per_1m_usd


def values(record: TrialRecord, goals: Goals) -> list[float]:
    """The objective values Optuna is told for this record."""
    return [metric(record, name, goals) for name, _ in OBJECTIVES[goals.objective]]


def violations(record: TrialRecord, goals: Goals) -> dict[str, float]:
    """Constraint values in Optuna's convention: <= 0 is feasible."""
    out = {}
    if goals.max_p95_ms is not None:
        out["max_p95_ms"] = record.latency_p95_ms - goals.max_p95_ms
    if goals.min_throughput is not None:
        out["min_throughput"] = goals.min_throughput - record.throughput
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
    points = sorted(records, key=lambda r: (*values(r, pareto), r.trial_number))
    front: list[TrialRecord] = []
    seen: set[tuple[float, ...]] = set()
    best_cost = math.inf
    for r in points:
        latency, cost = values(r, pareto)
        if cost < best_cost:
            front.append(r)
            best_cost = cost
            seen.add((latency, cost))
        elif (latency, cost) in seen:
            front.append(r)  # the same point reached by another trial is not dominated
    return front


def unique(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """One record per deployment (the earliest trial): repeats of a config are not new results."""
    first: dict[tuple[object, ...], TrialRecord] = {}
    for r in sorted(records, key=lambda r: r.trial_number):
        first.setdefault((r.instance_type, r.batch_size, r.pipeline_cores, r.group_sizes), r)
    return list(first.values())
