"""Two studies, or two trials, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autotune.study import Goals, feasible, pareto_front, unique
from autotune.study.read import knobs_text, num
from autotune.values import TrialRecord
from ui._trial import deployment_mode


@dataclass(frozen=True)
class CompareRow:
    what: str
    a: str
    b: str


def _summary(records: Sequence[TrialRecord], goals: Goals) -> dict[str, str]:
    ok = [r for r in unique(records) if feasible(r, goals)]
    if not ok:
        return {"completed trials": str(len(records)), "feasible configs": "0"}
    return {
        "completed trials": str(len(records)),
        "feasible configs": str(len(ok)),
        "lowest p95 (ms)": num(min(r.latency.p95_ms for r in ok)),
        "highest throughput (seq/s)": num(max(r.result.throughput for r in ok)),
        "lowest $ per 1M": num(min(r.cost.per_1m_usd for r in ok)),
        "Pareto front size": str(len(pareto_front(ok, goals))),
        "instances tried": ", ".join(sorted({r.deployment.instance_type for r in records})),
    }


def compare(
    records_a: Sequence[TrialRecord],
    records_b: Sequence[TrialRecord],
    goals_a: Goals,
    goals_b: Goals | None = None,
) -> list[CompareRow]:
    """Two studies side by side, each judged by its own constraints."""
    a, b = _summary(records_a, goals_a), _summary(records_b, goals_b or goals_a)
    names = list(a) + [k for k in b if k not in a]
    return [CompareRow(k, a.get(k, "-"), b.get(k, "-")) for k in names]


def compare_trials(a: TrialRecord, b: TrialRecord) -> list[CompareRow]:
    """Two trials' configs and results side by side."""

    def fields(r: TrialRecord) -> dict[str, str]:
        return {
            "study / trial": f"{r.study_name} / {r.trial_number}",
            "instance": r.deployment.instance_type,
            "mode": deployment_mode(r),
            "batch size": str(r.workload.batch_size),
            "deployment": knobs_text(r.deployment),
            "clients": str(r.result.concurrency),
            "throughput (seq/s)": num(r.result.throughput),
            "p50 / p95 / p99 (ms)": f"{num(r.latency.p50_ms)} / {num(r.latency.p95_ms)} / "
            f"{num(r.latency.p99_ms)}",
            "$ per hour": num(r.cost.per_hour_usd),
            "$ per 1M": num(r.cost.per_1m_usd),
            "bottleneck": r.result.bottleneck,
        }

    fa, fb = fields(a), fields(b)
    return [CompareRow(k, fa[k], fb[k]) for k in fa]
