"""A database made by an older schema revision upgrades in place without losing a trial.

Each test builds its own database at revision 0001, as autotune 0.1.0 left it: the tables of
the project's own migration stopped at 0001, an Optuna study with completed trials (its search
space stored as autotune stores it), and rows inserted with SQLAlchemy Core into the table as
the database holds it (reflected, not the current model), column by column as 0.1.0 wrote them.
The current code then opens it. Both backends run (see ``conftest.db_url``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import pytest
from alembic import command
from sqlalchemy import MetaData, Table, create_engine, select

import autotune
from autotune.errors import InputError
from autotune.values import Deployment, StageResult, TrialRecord
from storage import ResultStore
from storage._engine import open_engine
from storage._schema import _ALEMBIC_LOCK, _config, current_revision, head_revision
from tests.factories import record
from tests.study.helpers import run_cli

_TABLE = "autotune_trial_results"
_STUDY = "s"
_REQUESTS = 500  # the requests per trial of study "s" (its search space says so)
_OLD_STAGE_FIELDS = (
    # What 0.1.0 stored per stage: the plan's stage (weights lists left out) and its timing.
    # ``compute_s`` was the compiler's estimate, ``compute_s_sim`` the simulated time.
    *("index", "first_op", "last_op", "n_ops", "tensor_flops", "vector_flops", "scalar_flops"),
    *("compute_s", "weight_bytes", "resident_bytes", "streamed_bytes", "gather_bytes"),
    *("spill_bytes", "table_bytes", "working_set_bytes", "activation_bytes", "act_in_bytes"),
    *("act_out_bytes", "estimated_s", "service_s", "compute_s_sim", "dram_s", "link_s"),
    "busy_fraction",
)

# Stage fields of 0.1.0 that revision 0003 does not keep (``StageResult`` has no place for
# them), and the compiler's compute estimate, replaced by the simulated compute time.
_LOST_IN_0003 = {
    *("first_op", "last_op", "gather_bytes", "spill_bytes", "table_bytes"),
    *("working_set_bytes", "activation_bytes", "act_in_bytes", "act_out_bytes", "compute_s"),
}


def _old_stage(index: int) -> dict[str, Any]:
    values = [
        *(index, f"op{index * 6}", f"op{index * 6 + 5}", 40 + index, 1.5e9, 2.5e7, 1e5),
        *(0.0031, 44_000_001, 40_000_000, 4_000_001, 1024, 0, 2048, 3_000_000, 98_304, 98_304),
        *(98_304, 0.0041 + index, 0.0045, 0.003 + index / 1e4, 0.001, 1e-5 * index),
        0.97 - 0.16 * index,
    ]
    return dict(zip(_OLD_STAGE_FIELDS, values, strict=True))


def _old_row(number: int, trial_id: int, **changes: Any) -> dict[str, Any]:
    """A row of study "s" as autotune 0.1.0 wrote it: every 0001 column but ``id``."""
    row: dict[str, Any] = {
        "study_name": _STUDY,
        "optuna_trial_id": trial_id,
        "trial_number": number,
        "model": "bert-base-uncased",
        "task": "question-answering",
        "seq_len": 128,
        "instance_type": "inf1.xlarge",
        "batch_size": 4,
        "pipeline_cores": 2,
        "group_sizes": [2, 2],
        "concurrency": 4,
        "price_set": "on-demand",
        "throughput": 412.5 + number,
        "latency_p50_ms": 9.25,
        "latency_p95_ms": 12.5,
        "latency_p99_ms": 14.125,
        "latency_mean_ms": 9.875,
        "cost_per_hour_usd": 0.228,
        "cost_per_1m_usd": 0.1535353535353535,
        "fleet_size": None,
        "bottleneck": "dram-bandwidth",
        "bottleneck_detail": "stage 1 of 2 busy 97% of the time",
        "core_utilization": [0.97, 0.81, 0.97, 0.81],
        "host_utilization": 0.12,
        "stages": [_old_stage(0), _old_stage(1)],
        "plan_key": f"plan{number}",
        "compile_seconds": 1.5,
        "numeric_error": 1.25e-3,
        "emulator_version": "0.1.0",
        "seed": 2**40 + number,
    }
    return row | changes


# How the rows of study "s" differ: each deployment shape 0.1.0 could store.
_SHAPES: list[dict[str, Any]] = [
    {"pipeline_cores": 1, "group_sizes": [1, 1, 1, 1], "stages": [_old_stage(0)]},  # data-par.
    {"pipeline_cores": 4, "group_sizes": [4], "concurrency": 4},  # pipeline
    {},  # mixed: two copies of a 2-core pipeline
    {  # a GPU: 0.1.0 stored it as one core and one group
        "instance_type": "g4dn.xlarge",
        "pipeline_cores": 1,
        "group_sizes": [1],
        "concurrency": 1,
        "core_utilization": [0.9],
        "cost_per_hour_usd": 0.526,
        "stages": [_old_stage(0)],
    },
]


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Move autotune's tables to ``revision`` through the project's own migration config."""
    engine = open_engine(url, read_only=False)
    try:
        with _ALEMBIC_LOCK, engine.begin() as connection:
            (command.downgrade if down else command.upgrade)(_config(connection), revision)
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def _rows(url: str) -> dict[int, dict[str, Any]]:
    """Every column of every row of the results table, as the database holds it, by id."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            table = Table(_TABLE, MetaData(), autoload_with=connection)
            return {row.id: dict(row._mapping) for row in connection.execute(select(table))}
    finally:
        engine.dispose()


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=_STUDY, storage=url).trials


def _build_0001(url: str) -> list[dict[str, Any]]:
    """A revision-0001 database with a 4-trial Optuna study; returns the rows it holds."""
    _migrate(url, "0001")
    study = optuna.create_study(
        storage=url, study_name=_STUDY, sampler=optuna.samplers.RandomSampler(seed=3)
    )
    # As autotune stores a study's search space (a JSON string): the requests of every trial.
    space = {"instances": ["inf1.xlarge", "g4dn.xlarge"], "batch_sizes": [4], "requests": 500}
    study.set_user_attr("autotune_space", json.dumps(space, sort_keys=True))
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 1.0) ** 2, n_trials=4)
    rows = [
        _old_row(t.number, t._trial_id, latency_p50_ms=t.values[0], **shape)
        for t, shape in zip(study.trials, _SHAPES, strict=True)
    ]
    # A study without a stored space, and the nullable and empty values.
    rows.append(
        _old_row(
            0,
            1000,
            study_name="other",
            fleet_size=3,
            numeric_error=None,
            stages=[],
            bottleneck_detail="",
        )
    )
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            table = Table(_TABLE, MetaData(), autoload_with=connection)
            connection.execute(
                table.insert(),
                [
                    {**row, "created_at": datetime(2026, 11, 1, 12, i, tzinfo=UTC)}
                    for i, row in enumerate(rows)
                ],
            )
    finally:
        engine.dispose()
    assert _revision(url) == "0001"
    assert "autotune_version" not in _rows(url)[1]  # really the old schema
    return rows


def _converted(row: dict[str, Any], requests: int) -> TrialRecord:
    """The record a 0.1.0 row stands for, written out with the shared factory."""
    gpu = row["instance_type"] == "g4dn.xlarge"
    return record(
        row["trial_number"],
        study_name=row["study_name"],
        optuna_trial_id=row["optuna_trial_id"],
        model=row["model"],
        task=row["task"],
        seq_len=row["seq_len"],
        batch_size=row["batch_size"],
        instance_type=row["instance_type"],
        pipeline_cores=None if gpu else row["pipeline_cores"],
        group_sizes=None if gpu else tuple(row["group_sizes"]),
        stack="torchscript-amp" if gpu else None,  # 0.1.0's one GPU stack, the blog's
        concurrency=row["concurrency"],
        requests=requests,
        seed=row["seed"],
        throughput=row["throughput"],
        p50_ms=row["latency_p50_ms"],
        p95_ms=row["latency_p95_ms"],
        p99_ms=row["latency_p99_ms"],
        mean_ms=row["latency_mean_ms"],
        bottleneck=row["bottleneck"],
        bottleneck_detail=row["bottleneck_detail"],
        core_utilization=tuple(row["core_utilization"]),
        host_utilization=row["host_utilization"],
        stages=tuple(_stage_result(s) for s in row["stages"]),
        price_set=row["price_set"],
        per_hour_usd=row["cost_per_hour_usd"],
        per_1m_usd=row["cost_per_1m_usd"],
        fleet_size=row["fleet_size"],
        plan_key=row["plan_key"],
        emulator_version=row["emulator_version"],
        compile_seconds=row["compile_seconds"],
        numeric_error=row["numeric_error"],
    )


def _stage_result(old: dict[str, Any]) -> StageResult:
    """A 0.1.0 stage as a ``StageResult``: its simulated compute time, not the estimate."""
    kept = {k: v for k, v in old.items() if k in StageResult.__dataclass_fields__}
    return StageResult(**(kept | {"compute_s": old["compute_s_sim"]}))


def _records_of(rows: list[dict[str, Any]]) -> list[TrialRecord]:
    return [_converted(row, _REQUESTS if row["study_name"] == _STUDY else 2000) for row in rows]


def _without_version(rows: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {
        id_: {k: v for k, v in row.items() if k != "autotune_version"} for id_, row in rows.items()
    }


def test_head_is_0004() -> None:
    # The tests below describe the 0001 -> 0003 conversion of the trial rows; 0004 adds only the
    # service's tables (tests/service/test_storage.py). A new revision needs its own tests.
    assert head_revision() == "0004"


def test_a_0001_database_upgrades_without_losing_a_trial(db_url: str) -> None:
    rows = _build_0001(db_url)
    rows_before, trials_before = _rows(db_url), _trials(db_url)

    store = ResultStore(db_url)  # what ``autotune study --resume`` opens first

    assert _revision(db_url) == head_revision()
    expected = _records_of(rows)
    assert store.records(_STUDY) == expected[:-1]
    assert store.records("other") == expected[-1:]
    after = _rows(db_url)
    # Every row kept with its keys and bookkeeping; the record columns folded into one.
    assert set(after) == set(rows_before)
    keys = ("id", "created_at", "study_name", "optuna_trial_id", "trial_number")
    for id_, row in after.items():
        assert set(row) == {*keys, "autotune_version", "evaluation"}
        assert {k: row[k] for k in keys} == {k: rows_before[id_][k] for k in keys}
    assert {row["autotune_version"] for row in after.values()} == {"0.1.0"}
    assert _trials(db_url) == trials_before
    assert [t.state for t in trials_before] == [optuna.trial.TrialState.COMPLETE] * 4

    # The values that matter, written out: what ran, what it measured and cost, how to deploy.
    data_parallel, pipeline, mixed, gpu = store.records(_STUDY)
    assert mixed.deployment == Deployment.of("inf1.xlarge", pipeline_cores=2, group_sizes=(2, 2))
    assert (mixed.deployment.instance_type, mixed.workload.batch_size) == ("inf1.xlarge", 4)
    assert gpu.deployment.instance_type == "g4dn.xlarge"
    assert {name for name, _ in gpu.deployment.knobs} <= {"stack"}  # no NeuronCore knobs
    assert [r.result.mode for r in (data_parallel, pipeline, mixed, gpu)] == [
        "data-parallel",
        "pipeline",
        "mixed",
        "gpu",
    ]
    assert (mixed.latency.p95_ms, mixed.latency.p99_ms, mixed.latency.mean_ms) == (
        12.5,
        14.125,
        9.875,
    )
    assert mixed.latency.p50_ms == trials_before[2].values[0]
    assert (mixed.cost.price_set, mixed.cost.per_hour_usd, mixed.cost.per_1m_usd) == (
        "on-demand",
        0.228,
        0.1535353535353535,
    )
    assert store.records("other")[0].cost.fleet_size == 3
    assert mixed.evaluation.settings == {
        "generation": "neuroncore-v1",
        "compiler_args": ["--neuroncore-pipeline-cores", "2"],
        "environment": {"NEURONCORE_GROUP_SIZES": "2,2"},
        "copies": [{"NEURON_RT_VISIBLE_CORES": "0-1"}, {"NEURON_RT_VISIBLE_CORES": "2-3"}],
    }
    assert data_parallel.evaluation.settings["copies"] == [
        {"NEURON_RT_VISIBLE_CORES": str(core)} for core in range(4)
    ]
    assert {k: v for k, v in gpu.evaluation.settings.items() if k != "stack"} == {
        "generation": "gpu",
        "compiler_args": [],
        "environment": {},
        "copies": [{}],
    }
    assert mixed.result.copy_cores == ((0, 1), (2, 3)) and gpu.result.copy_cores == ((0,),)
    assert mixed.result.stages[1].compute_s == rows[2]["stages"][1]["compute_s_sim"]
    assert mixed.evaluation.load.requests == _REQUESTS
    assert store.records("other")[0].evaluation.load.requests == 2000  # no stored space
    assert mixed.evaluation.load.seed == 2**40 + 2
    assert mixed.evaluation.provenance.numeric_error == 1.25e-3

    # The study goes on: a new trial and its record, stamped with this release.
    study = optuna.load_study(study_name=_STUDY, storage=db_url)
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 1.0) ** 2, n_trials=1)
    new = study.trials[-1]
    store.add(record(4, study_name=_STUDY, optuna_trial_id=new._trial_id))
    assert [r.trial_number for r in store.records(_STUDY)] == [0, 1, 2, 3, 4]
    stamped = [row for row in _rows(db_url).values() if row["optuna_trial_id"] == new._trial_id]
    assert [row["autotune_version"] for row in stamped] == [autotune.__version__]
    store.close()

    # Once upgraded, the dashboard's read-only open works.
    reader = ResultStore(db_url, read_only=True)
    assert reader.records("other") == expected[-1:]
    reader.close()


def test_a_converted_gpu_row_is_the_deployment_a_gpu_trial_records_today(db_url: str) -> None:
    _build_0001(db_url)
    gpu = ResultStore(db_url).records(_STUDY)[3]
    assert gpu.deployment == Deployment.of("g4dn.xlarge", stack="torchscript-amp")
    assert gpu.evaluation.settings["stack"] == "torchscript-amp"


def test_read_only_open_of_a_0001_database_refuses_and_changes_nothing(db_url: str) -> None:
    _build_0001(db_url)
    rows_before = _rows(db_url)

    with pytest.raises(InputError, match="revision 0001, this autotune reads 0004"):
        ResultStore(db_url, read_only=True)

    assert _revision(db_url) == "0001"
    assert _rows(db_url) == rows_before  # still the 0001 columns, every value as it was


def test_listing_an_old_database_says_how_to_upgrade_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _build_0001(url)
    rows_before = _rows(url)
    for args in (["studies"], ["trials", "--study-name", "s"]):
        run = run_cli(tmp_path, *args, "--storage", url)
        assert run.code == 2
        (line,) = run.err.strip().splitlines()
        assert "revision 0001" in line and "autotune study --resume" in line
    assert _rows(url) == rows_before


def test_downgrade_to_0001_keeps_every_row(db_url: str) -> None:
    rows = _build_0001(db_url)
    rows_before = _rows(db_url)
    ResultStore(db_url).close()
    assert _revision(db_url) == head_revision()

    _migrate(db_url, "0001", down=True)

    assert _revision(db_url) == "0001"
    after = _rows(db_url)
    assert set(after) == set(rows_before)  # every row, by id
    for id_, row in after.items():
        before = rows_before[id_]
        assert set(row) == set(before)  # the 0001 columns, and only they
        # Every column as 0.1.0 wrote it, but the stages: 0003 keeps of each stage what the
        # dashboard shows (see _LOST_IN_0003).
        assert {k: v for k, v in row.items() if k != "stages"} == {
            k: v for k, v in before.items() if k != "stages"
        }
        assert len(row["stages"]) == len(before["stages"])
        for stage, old in zip(row["stages"], before["stages"], strict=True):
            kept = {k: v for k, v in old.items() if k not in _LOST_IN_0003}
            assert {k: stage[k] for k in kept} == kept
    store = ResultStore(db_url)  # and up again: the same records as the first upgrade
    assert store.records(_STUDY) + store.records("other") == _records_of(rows)
    store.close()
