"""What the dashboard shows, computed as typed frozen values by pure functions on records.

Page functions in ``ui.app`` only draw these values; everything here is unit-tested without
Streamlit. Trial detail, the request timeline and study insight live in ``ui._trial`` and
``ui._insight`` and are re-exported here.

Length: over 300 lines (Pareto, best cards, the studies table); the Pareto values are the
next to move into a module of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from autotune.study import OBJECTIVES, Goals, feasible, metric, pareto_front, unique
from autotune.study.read import (
    DEFAULT_TOLERANCE,
    best,
    constraints_text,
    default_pick,
    knobs_text,
    metric_text,
    num,
    plural,
    tolerance,
)
from autotune.values import TrialRecord, epsilon_front
from ui._compare import CompareRow, compare, compare_trials
from ui._insight import (
    GroupRow,
    HistoryPoint,
    HistorySeries,
    by_instance_and_batch,
    group_table,
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
    stage_table,
    timeline,
    trial_detail,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "LOAD_NOTE",
    "STUDY_COLUMNS",
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
    "goals_text",
    "group_table",
    "history",
    "latency_summary",
    "load_curves",
    "num",
    "param_importances",
    "pareto_info",
    "recommended",
    "stage_table",
    "study_row",
    "study_table",
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
    return constraints_text(goals)


STUDY_COLUMNS = {
    "study_name": "study",
    "objective": "objective",
    "constraints": "constraints",
    "n_trials": "trials",
    "n_complete": "completed",
    "n_failed": "could not deploy",
    "n_running": "running",
    "state": "state",
    "best": "recommendation",
    "traffic": "traffic",
}


def study_table(rows: Sequence[StudyRow]) -> list[dict[str, object]]:
    """The studies table with column names a reader understands."""
    return [{STUDY_COLUMNS[k]: v for k, v in vars(r).items()} for r in rows]


def recommended(records: Sequence[TrialRecord], goals: Goals) -> TrialRecord | None:
    """The trial the pages open on: the recommendation (``autotune best``) of a one-objective
    study, and of a Pareto study the export's default pick (its cheapest, by the same rule)."""
    return default_pick(records, goals)


def goals_text(goals: Goals, traffic: str) -> str:
    """What a study asks, stated on every page: objective, constraints and the traffic."""
    what = {
        "min-latency": "lowest p95 latency",
        "max-throughput": "highest throughput",
        "min-cost": f"lowest cost ({goals.cost_name})",
        "pareto": f"Pareto set of p95 latency and {goals.cost_name}",
    }[goals.objective]
    return f"Objective: {what} ({goals.objective}); {constraints_text(goals)}; traffic: {traffic}."


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
        top = f"{plural(len(found), 'config')} on the front"
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
        f"p50/p95/p99 {num(record.latency.p50_ms)}/{num(record.latency.p95_ms)}/"
        f"{num(record.latency.p99_ms)} ms",
        f"{num(record.result.throughput)} seq/s",
        f"${num(record.cost.per_hour_usd)}/h, ${num(record.cost.per_1m_usd)} per 1M",
    ]
    if record.cost.fleet_size is not None:
        parts.append(
            f"fleet of {record.cost.fleet_size} = ${num(record.cost.fleet_per_hour_usd or 0)}/h"
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
    hover: str  # the full config and results
    config: str  # batch, knobs and clients in a few words
    # The emulator's relative uncertainty of the two drawn values (error bars on the front).
    p95_rel: float = 0.0
    y_rel: float = 0.0

    @property
    def family(self) -> str:
        """The instance family (``inf1``, ``g4dn``): the legend groups by it and the mode."""
        return self.instance_type.split(".")[0]


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
    """Records no other beats on both lower p95 and higher throughput, by latency, without
    near-duplicates (the rule of ``pareto_front``, on p95 and time per sequence)."""
    ordered = sorted(records, key=lambda r: r.trial_number)
    points = [(r.latency.p95_ms, 1.0 / r.result.throughput) for r in ordered]
    tolerances = [(tolerance(r, "p95_ms"), tolerance(r, "throughput")) for r in ordered]
    kept = (ordered[i] for i in epsilon_front(points, tolerances))
    return sorted(kept, key=lambda r: (r.latency.p95_ms, r.trial_number))


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
            f"batch {r.workload.batch_size}, {knobs_text(r.deployment)}, "
            f"{plural(r.result.concurrency, 'client')}",
            tolerance(r, "p95_ms"),
            tolerance(r, "cost" if y == "cost" else "throughput"),
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
    # The recommendation of each objective (``best``: ties within the uncertainty go to the
    # clearly better trade), so a card never buys 0.7% of cost with twice the latency.
    titles = {
        "min-latency": "Lowest p95 latency",
        "max-throughput": "Highest throughput",
        "min-cost": "Lowest cost",
    }
    for objective, title in titles.items():
        (r,) = best(ok, goals, objective)
        ((name, _),) = OBJECTIVES[objective]
        headline = metric_text(name, metric(r, name, goals), goals)
        cards.append(BestCard(title, headline, r, config_text(r, goals, "\n")))
    load = qps if qps is not None else goals.target_qps
    if load is not None and load > 0:
        r = min(
            ok,
            key=lambda r: (_fleet(r, load) * r.cost.per_hour_usd, r.latency.p95_ms, r.trial_number),
        )
        n = _fleet(r, load)
        cards.append(
            BestCard(
                f"Cheapest fleet for {load:g} seq/s",
                f"{n} x {r.deployment.instance_type} = ${num(n * r.cost.per_hour_usd)}/h",
                r,
                config_text(r, goals, "\n"),
            )
        )
    return cards


def _fleet(record: TrialRecord, qps: float) -> int:
    return max(1, math.ceil(qps / record.result.throughput))
