"""Objectives, feasibility, Pareto fronts and the pick of the best: pure functions on records."""

from __future__ import annotations

import math
from collections.abc import Sequence

from autotune.study._settings import OBJECTIVES, Goals
from autotune.values import TrialRecord, epsilon_front, pareto_indices


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


# The recommendation rule, the one every surface shows (``autotune best``, the study's output and
# progress line, ``studies``, export's default pick, the dashboard, the API):
#
# - Only feasible trials count, one per deployment (the earliest trial that ran it).
# - One objective: the best value wins, and every trial within the tolerance of it ties with it.
#   Ties break by the other side of the trade (cost for min-latency and max-throughput, p95 for
#   min-cost), then by the objective's own value, then by the lower trial number. So one copy on
#   one core, which has the same latency on every inf1 size, is recommended on the smallest.
# - pareto: the front without near-duplicates: a trial is dropped when another is within the
#   tolerance of it on both p95 and cost and clearly (by more than the tolerance) better on one.
#
# The tolerance is relative: the emulator's stated uncertainty of the metric (``Evaluation.
# uncertainty``: latency for p95, throughput for throughput and cost, which is price over
# throughput); a pair is judged with the larger of its two. Records without one (stored before
# autotune measured it) use DEFAULT_TOLERANCE.
DEFAULT_TOLERANCE = 0.01
_TIE_BREAK = {"min-latency": "cost", "max-throughput": "cost", "min-cost": "p95_ms"}


def tolerance(record: TrialRecord, name: str) -> float:
    """The relative uncertainty of ``record``'s metric ``name`` (p95_ms, throughput or cost)."""
    u = record.evaluation.uncertainty
    if u is None:
        return DEFAULT_TOLERANCE
    value = u.latency_rel if name == "p95_ms" else u.throughput_rel
    return value if value > 0 else DEFAULT_TOLERANCE


def best(
    records: Sequence[TrialRecord], goals: Goals, objective: str | None = None
) -> list[TrialRecord]:
    """The recommendation: the best feasible record, or the Pareto set for ``pareto``, by the
    rule above; ``objective`` asks by another objective than the study's (same constraints)."""
    if (objective or goals.objective) == "pareto":
        return pareto_front([r for r in unique(records) if feasible(r, goals)], goals)
    return ties(records, goals, objective)[:1]


def ties(
    records: Sequence[TrialRecord], goals: Goals, objective: str | None = None
) -> list[TrialRecord]:
    """The feasible records tied with the best of a single objective (within the tolerance),
    in the order of the rule above: the first is the recommendation. Empty for ``pareto``."""
    objective = objective or goals.objective
    if objective == "pareto":
        return []
    picked = Goals(objective, goals.max_p95_ms, goals.min_throughput, goals.target_qps)
    ok = [r for r in unique(records) if feasible(r, goals)]
    if not ok:
        return []
    ((name, direction),) = OBJECTIVES[objective]
    sign = 1.0 if direction == "minimize" else -1.0

    def value(r: TrialRecord) -> float:
        return sign * metric(r, name, picked)

    top = min(ok, key=lambda r: (value(r), r.trial_number))

    def tied(r: TrialRecord) -> bool:
        # Within the tolerance of the best; for throughput, as for its inverse (cost).
        band = 1 + max(tolerance(r, name), tolerance(top, name))
        mine, best_value = metric(r, name, picked), metric(top, name, picked)
        return mine <= best_value * band if sign > 0 else mine * band >= best_value

    tie = _TIE_BREAK[objective]
    return sorted(
        (r for r in ok if tied(r)),
        key=lambda r: (metric(r, tie, picked), value(r), r.trial_number),
    )


def default_pick(records: Sequence[TrialRecord], goals: Goals) -> TrialRecord | None:
    """The one trial a study recommends to deploy (export's default, the dashboard's pickers):
    its ``best``, or for a Pareto study the cheapest config of its front (by the same rule)."""
    if goals.objective == "pareto":
        records = best(records, goals)
    found = best(records, goals, goals.objective if goals.objective != "pareto" else "min-cost")
    return found[0] if found else None


def pareto_front(records: Sequence[TrialRecord], goals: Goals) -> list[TrialRecord]:
    """The recommended front of p95 latency against cost (sorted by latency): records no other
    record beats on both, without those another is within the tolerance of and clearly better
    than on one (``epsilon_front``)."""
    pareto = Goals("pareto", goals.max_p95_ms, goals.min_throughput, goals.target_qps)
    ordered = sorted(records, key=lambda r: r.trial_number)
    points = [values(r, pareto) for r in ordered]
    tolerances = [[tolerance(r, "p95_ms"), tolerance(r, "cost")] for r in ordered]
    kept = [ordered[i] for i in epsilon_front(points, tolerances)]
    return sorted(kept, key=lambda r: (r.latency.p95_ms, metric(r, "cost", pareto), r.trial_number))


def exact_front(records: Sequence[TrialRecord], goals: Goals) -> list[TrialRecord]:
    """Records no other record beats on both p95 latency and cost, near-duplicates included."""
    pareto = Goals("pareto", goals.max_p95_ms, goals.min_throughput, goals.target_qps)
    ordered = sorted(records, key=lambda r: r.trial_number)
    return [ordered[i] for i in pareto_indices([values(r, pareto) for r in ordered])]


def unique(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """One record per deployment (the earliest trial): repeats of a config are not new results."""
    first: dict[tuple[object, ...], TrialRecord] = {}
    for r in sorted(records, key=lambda r: r.trial_number):
        first.setdefault((r.deployment, r.workload.batch_size, r.evaluation.load), r)
    return list(first.values())
