"""What the dashboard shows, computed as typed frozen values by pure functions on records.

Page functions in ``ui.app`` only draw these values; everything here is unit-tested without
Streamlit. Trial detail, the request timeline and study insight live in ``ui._trial`` and
``ui._insight`` and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from autotune.study import Goals, best, feasible, metric, pareto_front, unique
from autotune.study.read import knobs_text, plural
from autotune.values import TrialRecord, pareto_indices
from ui._compare import CompareRow, compare, compare_trials
from ui._insight import (
    GroupRow,
    HistoryPoint,
    HistorySeries,
    by_instance_and_batch,
    history,
    param_importances,
)
from ui._load import LOAD_NOTE, LoadCurve, load_curves, traffic_text
from ui._trial import (
    TIMELINE_NOTE,
    ChipUtilization,
    LatencySummary,
    StageRow,
    TimelineBar,
    TrialDetail,
    deployment_mode,
    latency_summary,
    timeline,
    trial_detail,
)

__all__ = [
    "LOAD_NOTE",
    "TIMELINE_NOTE",
    "Y_AXES",
    "BestCard",
    "ChipUtilization",
    "CompareRow",
    "GroupRow",
    "HistoryPoint",
    "HistorySeries",
    "LatencySummary",
    "LoadCurve",
    "ParetoInfo",
    "ParetoPoint",
    "StageRow",
    "StudyRow",
    "TimelineBar",
    "TrialDetail",
    "YAxis",
    "best_cards",
    "by_instance_and_batch",
    "compare",
    "compare_trials",
    "config_text",
    "deployment_mode",
    "history",
    "latency_summary",
    "load_curves",
    "param_importances",
    "pareto_info",
    "study_row",
    "timeline",
    "traffic_text",
    "trial_detail",
]

YAxis = Literal["cost", "throughput"]
Y_AXES: tuple[YAxis, ...] = ("cost", "throughput")


@dataclass(frozen=True)
class StudyRow:
    """One line of the studies table."""

    study_name: str
    objective: str
    constraints: str
    n_trials: int
    n_complete: int
    n_failed: int
    n_running: int
    state: Literal["running", "finished", "empty"]
    best: str  # the recommendation in one line, "-" if none
    traffic: str = "-"  # the traffic its results were measured at


def _constraints(goals: Goals) -> str:
    parts = []
    if goals.max_p95_ms is not None:
        parts.append(f"p95 <= {goals.max_p95_ms:g} ms")
    if goals.min_throughput is not None:
        parts.append(f">= {goals.min_throughput:g} seq/s")
    if goals.target_qps is not None:
        parts.append(f"fleet for {goals.target_qps:g} seq/s")
    return ", ".join(parts) or "none"


def study_row(
    name: str,
    goals: Goals,
    records: Sequence[TrialRecord],
    n_failed: int,
    n_running: int,
) -> StudyRow:
    """The summary of one study from its records and Optuna's trial counts."""
    found = best(records, goals)
    if not found:
        top = "-"
    elif goals.objective == "pareto":
        top = f"{len(found)} configs on the front"
    else:
        top = config_text(found[0], goals, sep=", ")
    n_complete = len(records)
    state: Literal["running", "finished", "empty"] = (
        "running" if n_running else "finished" if n_complete + n_failed else "empty"
    )
    return StudyRow(
        name,
        goals.objective,
        _constraints(goals),
        n_complete + n_failed + n_running,
        n_complete,
        n_failed,
        n_running,
        state,
        top,
        traffic_text(records),
    )


def config_text(record: TrialRecord, goals: Goals, sep: str = "<br>") -> str:
    """The full config and its results, for hover labels and cards."""
    parts = [
        f"trial {record.trial_number}",
        f"{record.deployment.instance_type} ({deployment_mode(record)})",
        f"batch {record.workload.batch_size}, {knobs_text(record.deployment)}, "
        f"{plural(record.result.concurrency, 'client')}",
        f"p50/p95/p99 {record.latency.p50_ms:.3f}/{record.latency.p95_ms:.3f}/"
        f"{record.latency.p99_ms:.3f} ms",
        f"{record.result.throughput:.1f} seq/s",
        f"${record.cost.per_hour_usd:.3f}/h, ${record.cost.per_1m_usd:.4f} per 1M",
    ]
    if record.cost.fleet_size is not None:
        parts.append(
            f"fleet {record.cost.fleet_size} x = ${record.cost.fleet_per_hour_usd or 0:.3f}/h"
        )
    parts.append(f"bottleneck: {record.result.bottleneck}")
    if not feasible(record, goals):
        parts.append("infeasible (violates a constraint)")
    return sep.join(parts)


@dataclass(frozen=True)
class ParetoPoint:
    trial_number: int
    p95_ms: float
    cost: float  # $ per 1M sequences, or the fleet's $/h when the study sizes a fleet
    throughput: float
    instance_type: str
    mode: str
    feasible: bool
    on_front: bool
    hover: str


@dataclass(frozen=True)
class ParetoInfo:
    """The scatter of every distinct config and its front, ready to draw."""

    y: YAxis
    x_label: str
    y_label: str
    cost_label: str
    points: tuple[ParetoPoint, ...]
    front: tuple[ParetoPoint, ...]  # non-dominated feasible points, by latency
    n_repeats: int  # trials that re-ran an already measured config (not drawn twice)


def _throughput_front(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Records no other beats on both lower p95 and higher throughput, by latency."""
    ordered = sorted(records, key=lambda r: r.trial_number)
    points = [(r.latency.p95_ms, -r.result.throughput) for r in ordered]
    return sorted((ordered[i] for i in pareto_indices(points)), key=lambda r: r.latency.p95_ms)


def pareto_info(records: Sequence[TrialRecord], goals: Goals, y: YAxis = "cost") -> ParetoInfo:
    """p95 latency against cost (or throughput) for each distinct config, and the front."""
    distinct = unique(records)
    ok = [r for r in distinct if feasible(r, goals)]
    front_records = pareto_front(ok, goals) if y == "cost" else _throughput_front(ok)
    on_front = {r.trial_number for r in front_records}
    points = {
        r.trial_number: ParetoPoint(
            r.trial_number,
            r.latency.p95_ms,
            metric(r, "cost", goals),
            r.result.throughput,
            r.deployment.instance_type,
            deployment_mode(r),
            feasible(r, goals),
            r.trial_number in on_front,
            config_text(r, goals),
        )
        for r in distinct
    }
    return ParetoInfo(
        y,
        "p95 latency (ms)",
        goals.cost_name if y == "cost" else "throughput (seq/s)",
        goals.cost_name,
        tuple(points.values()),
        tuple(points[r.trial_number] for r in front_records),
        len(records) - len(distinct),
    )


@dataclass(frozen=True)
class BestCard:
    title: str
    headline: str  # the value the card is about
    record: TrialRecord
    detail: str


def best_cards(
    records: Sequence[TrialRecord], goals: Goals, qps: float | None = None
) -> list[BestCard]:
    """Lowest latency, highest throughput, lowest cost and (given a load) the cheapest fleet."""
    ok = [r for r in unique(records) if feasible(r, goals)]
    if not ok:
        return []
    cards = []
    picks: tuple[tuple[str, Callable[[TrialRecord], float], float, str], ...] = (
        ("Lowest p95 latency", lambda r: r.latency.p95_ms, 1.0, "{:.3f} ms"),
        ("Highest throughput", lambda r: r.result.throughput, -1.0, "{:.1f} seq/s"),
        ("Lowest cost", lambda r: r.cost.per_1m_usd, 1.0, "${:.4f} per 1M"),
    )
    for title, value, sign, fmt in picks:
        r = min(ok, key=lambda r: (sign * value(r), r.trial_number))
        cards.append(BestCard(title, fmt.format(value(r)), r, config_text(r, goals, "\n")))
    load = qps if qps is not None else goals.target_qps
    if load is not None and load > 0:
        r = min(ok, key=lambda r: (_fleet(r, load) * r.cost.per_hour_usd, r.trial_number))
        n = _fleet(r, load)
        cards.append(
            BestCard(
                f"Cheapest fleet for {load:g} seq/s",
                f"{n} x {r.deployment.instance_type} = ${n * r.cost.per_hour_usd:.3f}/h",
                r,
                config_text(r, goals, "\n"),
            )
        )
    return cards


def _fleet(record: TrialRecord, qps: float) -> int:
    return max(1, math.ceil(qps / record.result.throughput))
