"""The latency-against-load chart's data (knee, labels), the traffic every page states, and
the curve surviving the record's codec."""

from __future__ import annotations

import dataclasses

from autotune.values import Evaluation, Load, LoadPoint, knee
from tests.factories import record
from ui import analysis, charts


def _curve(p95s: list[float]) -> tuple[LoadPoint, ...]:
    n = len(p95s)
    return tuple(
        LoadPoint(100.0 * (i + 1), (i + 1) / n, p / 2, p, 1.5 * p) for i, p in enumerate(p95s)
    )


def _with(r, curve=(), load=None):
    ev = r.evaluation
    result = dataclasses.replace(ev.result, load_curve=curve)
    ev = dataclasses.replace(ev, result=result, load=load or ev.load)
    return dataclasses.replace(r, evaluation=ev)


def test_knee_is_where_p95_turns_steep() -> None:
    points = _curve([5.0, 5.1, 5.2, 5.4, 5.8, 7.0, 12.0, 40.0])
    assert knee(points) == 5  # 7 ms at 600/s: after it, every step costs more than the last
    assert knee(points[:2]) is None
    assert knee(_curve([5.0, 5.0, 5.0])) is None  # never rises


def test_curves_come_from_records_that_have_one_and_survive_the_codec() -> None:
    curve = _curve([5.0, 5.1, 5.3, 6.0, 9.0, 30.0])
    with_curve = _with(record(3), curve)
    stored = Evaluation.from_dict(with_curve.evaluation.to_dict())
    assert stored.result.load_curve == curve
    (found,) = analysis.load_curves([record(1), with_curve])
    assert (found.trial_number, found.knee) == (3, knee(curve))
    assert "trial 3: inf1.xlarge, batch 1" in found.label
    figure = charts.load_curve_figure([found])
    assert len(figure.data) == 4  # p50, p95, p99 and the knee


def test_every_page_states_the_traffic() -> None:
    closed = record(0)
    assert analysis.traffic_text([closed]) == "closed-loop, 4 clients"
    opened = _with(record(1), load=Load(qps=1000.0, max_utilization=0.8))
    assert analysis.traffic_text([opened]) == (
        "open-loop Poisson at 1,000 requests/s; fleets sized to at most 80% busy per instance"
    )
    assert analysis.traffic_text([]) == "-"
