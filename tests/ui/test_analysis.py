"""The dashboard's pure analysis functions, on hand-made records with hand-checked answers."""

from __future__ import annotations

import math

import optuna
import pytest

from autotune.study import Goals
from tests.factories import gpu_record, pipeline_record, record
from tests.ui.records import CHEAP, FAST, PARETO, RECORDS, WORSE
from ui import analysis


def test_deployment_mode_is_the_generations_own_word_for_it() -> None:
    # The mode is named by the hardware generation when the trial runs, and stored with it.
    assert analysis.deployment_mode(record(0)) == "data-parallel"
    assert analysis.deployment_mode(record(0, pipeline_cores=4, group_sizes=(4,))) == "pipeline"
    assert analysis.deployment_mode(record(0, pipeline_cores=2, group_sizes=(2, 2))) == "mixed"
    assert analysis.deployment_mode(gpu_record(0)) == "gpu"
    # Whatever the record says, not recomputed from its knobs.
    assert analysis.deployment_mode(record(0, mode="tensor-parallel")) == "tensor-parallel"


def test_pareto_info_draws_each_config_once_and_sorts_the_front_by_latency() -> None:
    info = analysis.pareto_info(RECORDS, PARETO)
    assert [p.trial_number for p in info.points] == [0, 1, 2]
    assert info.n_repeats == 1
    assert [p.trial_number for p in info.front] == [0, 1]
    assert [p.on_front for p in info.points] == [True, True, False]
    assert info.y_label == "$ per 1M"
    assert "batch 2" in info.points[1].hover and "trial 1" in info.points[1].hover


def test_infeasible_points_are_drawn_but_never_on_the_front() -> None:
    goals = Goals("pareto", max_p95_ms=1.5)
    info = analysis.pareto_info(RECORDS, goals)
    assert [p.feasible for p in info.points] == [True, False, False]
    assert [p.trial_number for p in info.front] == [0]
    assert "infeasible" in info.points[1].hover


def test_throughput_front_keeps_points_no_faster_config_outserves() -> None:
    info = analysis.pareto_info(RECORDS, PARETO, y="throughput")
    # 0 is fastest; 1 is slower but serves more; 2 is slower than 1 and serves less.
    assert [p.trial_number for p in info.front] == [0, 1]
    assert info.y_label == "throughput (seq/s)"


def test_fleet_studies_plot_the_fleet_cost() -> None:
    goals = Goals("pareto", target_qps=10_000)
    r = record(0, fleet_size=3, throughput=4000.0)
    point = analysis.pareto_info([r], goals).points[0]
    assert point.cost == pytest.approx(3 * 0.228)
    assert analysis.pareto_info([r], goals).y_label == "fleet $/h"


def test_best_cards_pick_each_objective_and_size_the_cheapest_fleet() -> None:
    cards = analysis.best_cards(RECORDS, PARETO, qps=10_000)
    assert [c.title for c in cards] == [
        "Lowest p95 latency",
        "Highest throughput",
        "Lowest cost",
        "Cheapest fleet for 10000 seq/s",
    ]
    assert [c.record.trial_number for c in cards] == [0, 1, 1, 1]
    assert cards[0].headline == "p95 1.00 ms"
    # 10000 / 6000 -> 2 instances of trial 1; trial 0 needs 3 at the same price.
    assert cards[3].headline == "2 x inf1.xlarge = $0.456/h"


def test_best_cards_use_the_study_target_and_are_empty_without_feasible_trials() -> None:
    assert len(analysis.best_cards(RECORDS, PARETO)) == 3
    assert len(analysis.best_cards(RECORDS, Goals("pareto", target_qps=100.0))) == 4
    assert analysis.best_cards(RECORDS, Goals("pareto", max_p95_ms=0.1)) == []


def test_study_row_summarises_counts_state_and_recommendation() -> None:
    row = analysis.study_row("s", Goals("min-cost", max_p95_ms=5.0), RECORDS, 2, 1)
    assert (row.n_trials, row.n_complete, row.n_failed, row.state) == (7, 4, 2, "running")
    assert row.constraints == "p95 <= 5 ms"
    assert row.best.startswith("trial 1, inf1.xlarge")
    pareto = analysis.study_row("p", PARETO, RECORDS, 0, 0)
    assert (pareto.state, pareto.best, pareto.constraints) == (
        "finished",
        "2 configs on the front",
        "no constraints",
    )
    assert analysis.study_row("e", PARETO, [], 0, 0).state == "empty"


def test_trial_detail_converts_units_groups_cores_by_chip_and_explains() -> None:
    detail = analysis.trial_detail(record(0, core_utilization=(0.9, 0.8, 0.7, 0.6, 0.5)))
    stage = detail.stages[0]
    assert (stage.n_ops, stage.tensor_gflop, stage.weight_mb) == (10, 2.0, 3.0)
    assert stage.service_ms == pytest.approx(1.0)
    assert (stage.compute_ms, stage.dram_ms) == pytest.approx((0.6, 0.4))
    assert stage.busy_pct == pytest.approx(50.0)
    assert [c.cores for c in detail.chips] == [(0, 1, 2, 3), (4,)]
    assert detail.chips[0].mean == pytest.approx(0.75)
    assert detail.bottleneck == "Limited by compute: stage 0 is 99% busy."
    assert detail.latency.tail_ratio == pytest.approx(1.5)


def test_timeline_of_one_client_runs_requests_back_to_back() -> None:
    bars = analysis.timeline(pipeline_record(0, [1.0, 2.0], group_sizes=(2,), concurrency=1), 2)
    assert [(b.request, b.stage, b.start_ms, b.end_ms) for b in bars] == [
        (0, 0, 0.0, 1.0),
        (0, 1, 1.0, 3.0),
        (1, 0, 3.0, 4.0),
        (1, 1, 4.0, 6.0),
    ]


def test_timeline_pipelines_requests_of_several_clients() -> None:
    r = pipeline_record(0, [1.0, 2.0], group_sizes=(2,), concurrency=2)
    bars = analysis.timeline(r, 4)
    ends = {(b.request, b.stage): (b.start_ms, b.end_ms) for b in bars}
    # Request 1 enters stage 0 while request 0 is in stage 1, then waits for stage 1.
    assert ends[1, 0] == (1.0, 2.0)
    assert ends[1, 1] == (3.0, 5.0)
    # Request 2 is client 0's second: it starts when request 0 returns (3 ms).
    assert ends[2, 0] == (3.0, 4.0)
    assert ends[2, 1] == (5.0, 7.0)
    assert ends[3, 1] == (7.0, 9.0)


def test_timeline_spreads_clients_over_copies_on_their_own_cores() -> None:
    r = record(0, group_sizes=(1, 1), concurrency=2, copy_cores=((0,), (1,)))
    bars = analysis.timeline(r, 4)
    assert [(b.copy, b.core, b.start_ms) for b in bars] == [
        (0, 0, 0.0),
        (1, 1, 0.0),
        (0, 0, 1.0),
        (1, 1, 1.0),
    ]


def test_timeline_draws_the_cores_the_record_names() -> None:
    # Two 2-stage copies placed from core 4 on (the generation's placement, stored with the
    # result): each bar sits on the core of its copy's stage, never recomputed from the knobs.
    r = pipeline_record(
        0, [1.0, 2.0], group_sizes=(2, 2), concurrency=2, copy_cores=((4, 5), (6, 7))
    )
    bars = analysis.timeline(r, 2)
    assert [(b.request, b.copy, b.stage, b.core) for b in bars] == [
        (0, 0, 0, 4),
        (0, 0, 1, 5),
        (1, 1, 0, 6),
        (1, 1, 1, 7),
    ]
    assert {b.core for b in analysis.timeline(gpu_record(0), 3)} == {0}


def test_history_keeps_the_running_best_of_feasible_trials() -> None:
    goals = Goals("min-latency", max_p95_ms=2.5)
    (series,) = analysis.history([WORSE, CHEAP, FAST], goals)
    assert series.label == "p95 latency (ms)"
    assert [(p.trial_number, p.value, p.best_so_far) for p in series.points] == [
        (0, 1.0, 1.0),
        (1, 2.0, 1.0),
        (2, 3.0, 1.0),
    ]
    assert [p.feasible for p in series.points] == [True, True, False]
    two = analysis.history(RECORDS, PARETO)
    assert [s.name for s in two] == ["p95_ms", "cost"]
    assert analysis.history([WORSE], goals)[0].points[0].best_so_far is None


def test_grouped_by_instance_and_batch() -> None:
    rows = analysis.by_instance_and_batch(RECORDS)
    assert [(r.batch_size, r.n_trials) for r in rows] == [(1, 1), (2, 2), (4, 1)]
    assert rows[1].best_p95_ms == 2.0
    assert rows[1].best_throughput == 6000.0


def _study(values: list[tuple[int, float]]) -> optuna.Study:
    study = optuna.create_study()
    dist = optuna.distributions.IntDistribution(1, 8)
    for batch, value in values:
        study.add_trial(
            optuna.trial.create_trial(
                params={"batch": batch}, distributions={"batch": dist}, value=value
            )
        )
    return study


def test_param_importances_need_two_trials() -> None:
    assert analysis.param_importances(_study([])) == {}
    assert analysis.param_importances(_study([(1, 1.0)])) == {}
    found = analysis.param_importances(_study([(1, 1.0), (2, 2.0), (4, 4.0), (8, 8.0)]))
    assert set(found) <= {"batch"}
    assert all(math.isfinite(v) for v in found.values())
    # Search parameters under the names a reader knows, not the sampler's shares.
    from ui._insight import param_label

    assert param_label("batch_size_share") == "batch size"
    assert (param_label("copies_share"), param_label("instance_type")) == (
        "copies",
        "instance type",
    )


def test_compare_two_studies_and_two_trials() -> None:
    rows = {r.what: (r.a, r.b) for r in analysis.compare(RECORDS, [FAST], PARETO)}
    assert rows["completed trials"] == ("4", "1")
    assert rows["lowest $ per 1M"] == ("0.0100", "0.0500")
    assert rows["Pareto front size"] == ("2", "1")
    none = {r.what: (r.a, r.b) for r in analysis.compare([], RECORDS, PARETO)}
    assert none["feasible configs"] == ("0", "3")
    assert none["lowest p95 (ms)"] == ("-", "1.00")
    trials = {r.what: (r.a, r.b) for r in analysis.compare_trials(FAST, CHEAP)}
    assert trials["batch size"] == ("1", "2")
    assert trials["study / trial"] == ("s / 0", "s / 1")


def test_the_cheapest_card_prefers_the_clearly_better_trade() -> None:
    # The card bought 0.7% of cost with twice the p95: within the 1% tolerance the two
    # cost the same, and the faster one wins (as `autotune best --objective min-cost` says).
    fast = record(40, p95_ms=17.6, per_1m_usd=0.0600, group_sizes=(1, 1))
    slow = record(87, p95_ms=34.9, per_1m_usd=0.0596, group_sizes=(1, 1, 1))
    cards = {c.title: c for c in analysis.best_cards([fast, slow], PARETO)}
    assert cards["Lowest cost"].record.trial_number == 40
    assert cards["Lowest cost"].headline == "$0.0600 per 1M"
