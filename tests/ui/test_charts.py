"""The figures draw exactly the points of the analysis values they are given."""

from __future__ import annotations

from autotune.study import Goals
from tests.factories import pipeline_record, record
from tests.ui.records import RECORDS
from ui import analysis, charts


def test_pareto_figure_has_a_trace_per_family_and_mode_grey_infeasible_and_the_front() -> None:
    records = [*RECORDS, record(5, pipeline_cores=4, group_sizes=(4,), p95_ms=9.0)]
    records.append(record(6, instance_type="inf1.2xlarge", group_sizes=(7,), p95_ms=2.2))
    info = analysis.pareto_info(records, Goals("pareto", max_p95_ms=2.5))
    fig = charts.pareto_figure(info)  # log axes by default
    by_name = {t.name: t for t in fig.data}
    # One legend entry per family and mode, whatever the instance sizes: inf1 / data-parallel.
    assert set(by_name) == {"data-parallel", charts.INFEASIBLE_NAME, charts.FRONT_NAME}
    assert by_name["data-parallel"].legendgroup == "inf1"
    assert by_name["data-parallel"].legendgrouptitle.text == "inf1"
    assert list(by_name["data-parallel"].x) == [1.0, 2.0, 2.2]
    grey = by_name[charts.INFEASIBLE_NAME]
    assert list(grey.x) == [3.0, 9.0]
    assert list(grey.marker.symbol) == ["circle", "square"]
    assert grey.marker.color == charts.GREY
    assert list(by_name[charts.FRONT_NAME].x) == [1.0, 2.0]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    # The front's points carry the emulator's uncertainty as error bars; the others none.
    ok = by_name["data-parallel"]
    front = [p for p in info.points if p.feasible]
    assert (
        list(ok.error_x.array) == [p.p95_ms * p.p95_rel if p.on_front else 0 for p in front]
        and any(ok.error_x.array)
        and not any(grey.error_x.array)
    )
    assert list(ok.error_y.array) == [p.cost * p.y_rel if p.on_front else 0 for p in front]
    assert all(p.p95_rel > 0 and p.y_rel > 0 for p in info.points)


def test_timeline_figure_has_one_bar_per_request_and_stage() -> None:
    bars = analysis.timeline(pipeline_record(0, [1.0, 2.0], group_sizes=(2,), concurrency=2), 3)
    fig = charts.timeline_figure(bars)
    assert len(fig.data) == 3
    assert list(fig.data[1].base) == [1.0, 3.0]
    assert list(fig.data[1].x) == [1.0, 2.0]
    assert list(fig.data[1].y) == ["core 0", "core 1"]
