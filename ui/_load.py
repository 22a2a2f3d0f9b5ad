"""Traffic and latency against load: what every page states, and the knee chart's data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autotune.study.read import knobs_text
from autotune.values import LoadPoint, TrialRecord, knee


def traffic_text(records: Sequence[TrialRecord]) -> str:
    """The traffic a study's results were measured at (one line, for every page)."""
    if not records:
        return "-"
    loads = {r.evaluation.load.traffic_text() for r in records}
    text = " / ".join(sorted(loads))
    cap = records[0].evaluation.load.max_utilization
    if records[0].evaluation.load.open_loop and cap is not None:
        text += f"; fleets sized to at most {cap:.0%} busy per instance"
    return text


@dataclass(frozen=True)
class LoadCurve:
    """One deployment's p50/p95/p99 from light load to saturation, with its knee."""

    trial_number: int
    label: str
    points: tuple[LoadPoint, ...]
    knee: int | None  # index into ``points``

    @property
    def knee_point(self) -> LoadPoint | None:
        return None if self.knee is None else self.points[self.knee]


def load_curves(records: Sequence[TrialRecord]) -> list[LoadCurve]:
    """The curves of the records that have one (the study's recommendations)."""
    return [
        LoadCurve(
            r.trial_number,
            f"trial {r.trial_number}: {r.deployment.instance_type}, batch "
            f"{r.workload.batch_size}, {knobs_text(r.deployment)}",
            r.result.load_curve,
            knee(r.result.load_curve),
        )
        for r in sorted(records, key=lambda r: r.trial_number)
        if r.result.load_curve
    ]


LOAD_NOTE = (
    "Open-loop Poisson arrivals at one instance, each rate a share of the instance's saturation "
    "throughput, with the deployment's batching; the knee (marked) is where p95 turns from flat "
    "to steep. Curves are measured for a study's recommendations when `autotune study` ends."
)
