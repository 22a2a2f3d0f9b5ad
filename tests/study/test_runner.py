"""Real studies, run through ``autotune study``: the grid finds what exhaustive benchmarking
finds, constraints and fleet sizing, resuming, one stored record per completed Optuna trial,
configs evaluated only once per study, and the functional check of the recommendation only."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import optuna
import pytest

from autotune.emulator import CompileCache
from autotune.evaluation import evaluate
from autotune.hardware import emulator_version
from autotune.study import Goals, best, load_space, metric, values, with_overrides
from autotune.study._optuna import trial_id
from autotune.study.read import open_existing, tolerance
from autotune.study.write import candidates
from autotune.values import Deployment, Evaluation, Experiment, Load, TrialRecord, Workload
from storage import ResultStore
from tests.study.helpers import (
    MINILM,
    SMALL,
    Run,
    assert_one_error_line,
    run_cli,
    sqlite_url,
    study_names,
)

# Every test here runs real studies.
pytestmark = pytest.mark.slow

# What a trial deployed: the deployment (instance and knobs) and the batch size.
Identity = tuple[Deployment, int]


def identity(r: TrialRecord) -> Identity:
    return (r.deployment, r.workload.batch_size)


def row_identity(row: dict[str, Any]) -> Identity:
    """The identity of a trial from its JSON row (``Evaluation.flat``)."""
    knobs = {k: row[k] for k in ("pipeline_cores", "group_sizes", "stack") if k in row}
    return (Deployment.of(row["instance_type"], **knobs), row["batch_size"])


def evaluation_identity(ev: Evaluation) -> Identity:
    return (ev.deployment, ev.workload.batch_size)


def without_check(r: TrialRecord) -> TrialRecord:
    """``r`` as stored before the functional check and the latency-against-load curve of the
    recommendation."""
    provenance = dataclasses.replace(r.evaluation.provenance, numeric_error=None)
    result = dataclasses.replace(r.result, load_curve=())
    return dataclasses.replace(
        r, evaluation=dataclasses.replace(r.evaluation, provenance=provenance, result=result)
    )


def completed(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=url)
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


# --- the grid against exhaustive benchmarking ----------------------------------------------------


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    return tmp_path_factory.mktemp("grid")


@pytest.fixture(scope="module")
def grid(grid_dir: Path) -> dict[str, Run]:
    """One grid study per objective over the 16 candidates of SMALL."""
    runs = {}
    for objective in ("min-latency", "min-cost", "pareto"):
        runs[objective] = run_cli(
            grid_dir,
            "study",
            *SMALL,
            "--objective",
            objective,
            "--sampler",
            "grid",
            "--qps",
            "20000",  # enough traffic that the deployments need fleets of different sizes
            "--trials",
            "100",  # more than the grid: the grid stops when every candidate ran
            "--study-name",
            f"grid-{objective}",
            "--storage",
            sqlite_url(grid_dir),
            "--json",
        )
        assert runs[objective].code == 0, runs[objective].err
    return runs


@pytest.fixture(scope="module")
def direct(cache_dir: Path) -> dict[Identity, Evaluation]:
    """``autotune bench`` of every candidate (``evaluate``): seed 0, the default requests and
    traffic (open loop, batch delay 0 as SMALL asks), the default task and prices."""
    space = with_overrides(
        load_space(),
        model=MINILM,
        seq_len=32,
        batch_sizes=(1, 2),
        instances=("inf1.xlarge",),
        max_batch_delay_ms=(0.0,),
        traffic={"kind": "open-loop", "qps": 20000.0},
    )
    assert space.requests == Load().requests and space.open_loop
    cache = CompileCache()
    evaluations = [
        evaluate(
            Experiment(
                Workload(MINILM, seq_len=32, batch_size=c.batch_size),
                c.deployment(),
                space.load(c.max_batch_delay_ms, seed=0),
            ),
            cache,
        )
        for c in candidates(space)
    ]
    assert len(evaluations) == 16
    return {evaluation_identity(ev): ev for ev in evaluations}


def test_grid_runs_every_candidate_once(grid, grid_dir, direct):
    for objective, run in grid.items():
        out = run.json()
        assert (out["n_trials"], out["n_complete"], out["n_failed"]) == (16, 16, 0)
        records = ResultStore(sqlite_url(grid_dir)).records(f"grid-{objective}")
        assert Counter(identity(r) for r in records) == Counter(list(direct))


def test_grid_records_equal_direct_benchmarks(grid, grid_dir, direct):
    for r in ResultStore(sqlite_url(grid_dir)).records("grid-min-latency"):
        b = direct[identity(r)]
        assert r.result.throughput == b.result.throughput
        assert r.latency.p95_ms == pytest.approx(b.result.latency.p95_ms, rel=1e-12)
        assert r.cost.per_1m_usd == pytest.approx(b.cost.per_1m_usd, rel=1e-12)
        assert r.result.concurrency == b.result.concurrency
        assert r.evaluation.provenance.plan_key == b.provenance.plan_key
        # The whole measurement and what it needs on the real machine, not only the figures.
        assert without_check(r).result == b.result and r.evaluation.settings == b.settings


def _exhaustive(direct: dict[Identity, Evaluation], grid_dir: Path, objective: str) -> Any:
    """Every candidate as a record, and the grid study's goals (its traffic and constraints)."""
    records = [TrialRecord("exhaustive", i, i, ev) for i, ev in enumerate(direct.values())]
    opened = open_existing(sqlite_url(grid_dir), f"grid-{objective}")
    goals = opened.goals
    opened.store.close()
    return records, goals


@pytest.mark.parametrize(
    "objective,measure",
    [
        ("min-latency", lambda b: b.result.latency.p95_ms),
        ("min-cost", lambda b: b.cost.fleet_per_hour_usd),  # the fleet's $/h at the traffic
    ],
)
def test_grid_best_is_the_exhaustive_best(grid, grid_dir, direct, objective, measure):
    best_rows = grid[objective].json()["best"]
    assert len(best_rows) == 1
    records, goals = _exhaustive(direct, grid_dir, objective)
    # The recommendation rule (tests/study/test_objectives.py) applied to every candidate...
    (winner,) = best(records, goals)
    assert row_identity(best_rows[0]) == evaluation_identity(winner.evaluation)
    assert best_rows[0]["latency_ms"]["p95"] == round(winner.latency.p95_ms, 4)
    assert best_rows[0]["cost_per_1m_usd"] == round(winner.cost.per_1m_usd, 6)
    # ...is the exact optimum, or within the emulator's stated uncertainty of it.
    exact = min(measure(ev) for ev in direct.values())
    name = "p95_ms" if objective == "min-latency" else "cost"
    band = max(tolerance(r, name) for r in records)  # a pair is judged with the larger of two
    assert exact <= measure(winner.evaluation) <= exact * (1 + band) + 1e-12


def test_grid_pareto_is_the_exhaustive_non_dominated_set(grid, grid_dir, direct):
    records, goals = _exhaustive(direct, grid_dir, "pareto")
    cost = [metric(r, "cost", goals) for r in records]
    pairs = zip(records, cost, strict=True)
    points = {evaluation_identity(r.evaluation): (r.latency.p95_ms, c) for r, c in pairs}
    exact = {
        k
        for k, (lat, c) in points.items()
        if not any(o != (lat, c) and o[0] <= lat and o[1] <= c for o in points.values())
    }
    rows = grid["pareto"].json()["best"]
    shown = {row_identity(row) for row in rows}
    # The recommended front is the exact front without near-duplicates (the same rule).
    assert shown == {evaluation_identity(r.evaluation) for r in best(records, goals)}
    assert shown <= exact and len(exact) >= 2 and shown
    latencies = [row["latency_ms"]["p95"] for row in rows]
    assert latencies == sorted(latencies)


# --- records and Optuna trials -------------------------------------------------------------------


def test_every_completed_trial_has_its_record(grid, grid_dir):
    url = sqlite_url(grid_dir)
    store = ResultStore(url)
    for objective in grid:
        name = f"grid-{objective}"
        trials = completed(url, name)
        records = {r.optuna_trial_id: r for r in store.records(name)}
        assert len(records) == len(trials) == 16
        goals = Goals(objective)
        for t in trials:
            r = records[t._trial_id]
            assert r.trial_number == t.number and r.study_name == name
            cores, groups = r.deployment.knob("pipeline_cores"), r.deployment.knob("group_sizes")
            assert t.user_attrs["candidate"] == (
                f"{r.deployment.instance_type}/b{r.workload.batch_size}/p{cores}/x{len(groups)}"
            )
            assert set(groups) == {cores}
            mode = "data-parallel" if cores == 1 else "pipeline" if len(groups) == 1 else "mixed"
            assert r.result.mode == mode
            assert t.values == pytest.approx(values(r, goals), rel=1e-12)
            provenance = r.evaluation.provenance
            assert provenance.plan_key and provenance.emulator_version == emulator_version()
            assert (r.workload.model, r.workload.seq_len, r.evaluation.load.seed) == (
                MINILM,
                32,
                0,
            )


def test_only_the_exported_recommendation_is_checked_on_the_functional_path(grid, grid_dir):
    """Executing a plan costs more than simulating it: only the plan that ``autotune export``
    picks by default runs (the best, or the cheapest of a Pareto set), and its record (and the
    JSON of the recommendation) carries the numeric error."""
    url = sqlite_url(grid_dir)
    store = ResultStore(url)
    for objective, run in grid.items():
        name = f"grid-{objective}"
        records = store.records(name)
        pick = "min-cost" if objective == "pareto" else objective
        (exported,) = best(records, Goals(objective), pick)
        checked = [r for r in records if r.evaluation.provenance.numeric_error is not None]
        assert [r.trial_number for r in checked] == [exported.trial_number]
        error = exported.evaluation.provenance.numeric_error
        assert error is not None and 0 <= error < 0.1
        rows = {row["trial_number"]: row["numeric_error"] for row in run.json()["best"]}
        assert rows.pop(exported.trial_number) == error
        assert set(rows.values()) <= {None}
        spec = json.loads(
            run_cli(
                grid_dir, "export", "--study-name", name, "--storage", url, "--format", "json"
            ).out
        )
        assert spec["provenance"]["trial"] == exported.trial_number


def test_study_records_the_space_and_goals(grid, grid_dir):
    study = optuna.load_study(study_name="grid-pareto", storage=sqlite_url(grid_dir))
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE] * 2
    assert study.user_attrs["emulator_version"] == emulator_version()
    assert "autotune_space" in study.user_attrs and "autotune_goals" in study.user_attrs


# --- constraints ---------------------------------------------------------------------------------


def test_loose_constraint_is_feasible(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    run = autotune_cli(
        "study", *SMALL, "--max-p95-ms", "1e6", "--trials", "3", "--storage", url, "--json"
    )
    assert run.code == 0, run.err
    out = run.json()
    assert out["feasible"] is True and len(out["best"]) == 1
    (name,) = study_names(url)
    trials = completed(url, name)
    assert len(trials) == 3
    assert all(
        set(t.constraints) == {"max_p95_ms"} and t.constraints["max_p95_ms"] <= 0 for t in trials
    )


def test_impossible_constraint_exits_1_and_keeps_the_trials(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    run = autotune_cli(
        "study", *SMALL, "--max-p95-ms", "0.001", "--trials", "3", "--storage", url, "--json"
    )
    assert run.code == 1
    assert "no feasible config" in run.err and "Traceback" not in run.err
    out = run.json()
    assert out["feasible"] is False and out["best"] == [] and out["n_complete"] == 3
    (name,) = study_names(url)
    trials = completed(url, name)
    assert len(trials) == 3
    assert all(t.constraints["max_p95_ms"] > 0 for t in trials)
    assert len(ResultStore(url).records(name)) == 3


# --- fleet sizing --------------------------------------------------------------------------------


def test_fleet_sizing_for_a_target_load(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    run = autotune_cli(
        "study",
        *SMALL[:-1],
        "inf1.xlarge,g4dn.xlarge",
        "--objective",
        "min-cost",
        "--target-qps",
        "5000",
        "--sampler",
        "grid",
        "--trials",
        "100",
        "--study-name",
        "fleet",
        "--storage",
        url,
        "--json",
    )
    assert run.code == 0, run.err
    records = ResultStore(url).records("fleet")
    assert {r.deployment.instance_type for r in records} == {"inf1.xlarge", "g4dn.xlarge"}
    for r in records:
        assert r.cost.fleet_size == math.ceil(5000 / r.result.throughput)

    def fleet_cost(r: TrialRecord) -> float:
        assert r.cost.fleet_size is not None
        return r.cost.fleet_size * r.cost.per_hour_usd

    (row,) = run.json()["best"]
    chosen = next(r for r in records if r.trial_number == row["trial_number"])
    assert row["fleet_size"] == math.ceil(5000 / chosen.result.throughput)
    assert row["fleet_cost_per_hour_usd"] == round(fleet_cost(chosen), 4)
    cheapest = min(fleet_cost(r) for r in records)
    assert fleet_cost(chosen) == cheapest
    trial = next(t for t in completed(url, "fleet") if t.number == chosen.trial_number)
    assert trial.values == pytest.approx([cheapest])


# --- resuming ------------------------------------------------------------------------------------


def test_resume_continues_to_the_total_and_refuses_mismatches(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    base = ["study", *SMALL, "--storage", url, "--study-name", "r", "--json"]

    first = autotune_cli(*base, "--trials", "4")
    assert first.code == 0, first.err
    assert first.json()["n_trials"] == 4

    more = autotune_cli(*base, "--trials", "6")
    assert more.code == 0, more.err
    assert (more.json()["study_name"], more.json()["n_trials"]) == ("r", 6)
    assert [t.number for t in completed(url, "r")] == list(range(6))
    assert len(ResultStore(url).records("r")) == 6

    again = autotune_cli(*base, "--trials", "6", "--resume")
    assert again.code == 0, again.err
    assert again.json()["n_trials"] == 6
    assert len(optuna.load_study(study_name="r", storage=url).trials) == 6
    assert len(ResultStore(url).records("r")) == 6

    unknown = autotune_cli(*base[:-3], "--study-name", "nope", "--resume", "--trials", "6")
    assert_one_error_line(unknown, "'nope'", "--resume")

    before = optuna.load_study(study_name="r", storage=url)
    other = autotune_cli(*base, "--trials", "8", "--objective", "min-cost")
    assert other.code == 2 and "Traceback" not in other.err
    error = [line for line in other.err.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "'r'" in error[0] and "already exists" in error[0]
    after = optuna.load_study(study_name="r", storage=url)
    assert len(after.trials) == 6
    assert after.user_attrs == before.user_attrs
    assert after.directions == [optuna.study.StudyDirection.MINIMIZE]
    assert study_names(url) == ["r"]


def test_refused_resume_prints_only_the_error_line(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    base = ["study", *SMALL, "--storage", url, "--study-name", "r", "--trials", "1"]
    assert autotune_cli(*base).code == 0
    assert_one_error_line(autotune_cli(*base, "--objective", "pareto"), "'r'", "already exists")


def test_fresh_study_starts_with_the_data_parallel_baseline(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    run = autotune_cli("study", *SMALL, "--trials", "1", "--storage", url, "--study-name", "w")
    assert run.code == 0, run.err
    (trial,) = completed(url, "w")
    # The smallest batch, one core per copy, as many copies as fit (AWS's data-parallel run).
    assert trial.user_attrs["candidate"] == "inf1.xlarge/b1/p1/x4"


# --- each config is evaluated once per study -----------------------------------------------------


def test_repeated_config_reuses_its_record(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    run = autotune_cli(
        "study",
        *SMALL,
        "--pipeline-cores",
        "4",  # with batch sizes 1 and 2: exactly two candidates
        "--trials",
        "6",
        "--storage",
        url,
        "--study-name",
        "d",
        "--json",
    )
    assert run.code == 0, run.err
    assert run.json()["n_complete"] == 6
    records = ResultStore(url).records("d")
    assert len(records) == 6
    by_config: dict[Identity, list[TrialRecord]] = defaultdict(list)
    for r in records:
        by_config[identity(r)].append(r)
    assert len(by_config) <= 2 and max(len(v) for v in by_config.values()) >= 3
    for same in by_config.values():
        # compile_seconds is measured on every evaluation (a cache hit too), so equal values
        # mean the later trials reused the first evaluation instead of running it again. (The
        # recommended trial's record also carries its functional check: left out here.)
        stripped = [
            dataclasses.replace(without_check(r), optuna_trial_id=0, trial_number=0) for r in same
        ]
        assert all(r == stripped[0] for r in stripped)
        assert len({r.optuna_trial_id for r in same}) == len(same)
    checked = [r for r in records if r.evaluation.provenance.numeric_error is not None]
    assert [r.trial_number for r in checked] == [run.json()["best"][0]["trial_number"]]


def test_resumed_study_does_not_evaluate_known_configs_again(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    # No --study-name: the name derived from the command makes the same command resume.
    base = ["study", *SMALL, "--pipeline-cores", "4", "--storage", url]
    assert autotune_cli(*base, "--trials", "2").code == 0
    assert autotune_cli(*base, "--trials", "5").code == 0
    (name,) = study_names(url)
    records = ResultStore(url).records(name)
    assert len(records) == 5
    by_config: dict[Identity, set[float]] = defaultdict(set)
    for r in records:
        by_config[identity(r)].add(r.evaluation.provenance.compile_seconds)
    assert all(len(seconds) == 1 for seconds in by_config.values())


def test_a_resumed_study_drops_the_record_of_a_failed_trial(tmp_path: Path) -> None:
    # A Ctrl-C between storing a trial's record and Optuna completing the trial fails the trial
    # and leaves the record; the next run of the study deletes it, and keeps the evaluation.
    url = sqlite_url(tmp_path)
    command = ["study", *SMALL, "--study-name", "s", "--storage", url, "--json"]
    assert run_cli(tmp_path, *command, "--trials", "2").code == 0
    study = optuna.load_study(study_name="s", storage=url)
    kept = ResultStore(url).records("s")[0]
    interrupted = study.ask(dict(study.trials[0].distributions))
    interrupted.set_user_attr("candidate", study.trials[0].user_attrs["candidate"])
    stray = dataclasses.replace(
        kept, optuna_trial_id=trial_id(interrupted), trial_number=interrupted.number
    )
    assert ResultStore(url).add(stray, while_running=True)
    study.tell(interrupted, state=optuna.trial.TrialState.FAIL)

    assert run_cli(tmp_path, *command, "--trials", "4").code == 0
    done = {t.number for t in completed(url, "s")}
    assert sorted(r.trial_number for r in ResultStore(url).records("s")) == sorted(done)
    assert interrupted.number not in done
